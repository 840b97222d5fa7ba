/**
 * A redis-server this test starts and stops itself (for SIGSTOP, or a special config),
 * configured by a 0600 file so a password never shows in argv.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Redis from "ioredis";
import { findFreePorts } from "../../../local/src/freePorts";

export class OwnRedisServer {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  /** Starts redis-server with extra redis.conf lines; waits (bounded) until it answers. */
  static async start(confLines: string[] = [], password = ""): Promise<OwnRedisServer> {
    const [port] = await findFreePorts(1, { withBusPort: false });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "connector-own-redis-"));
    const conf = path.join(dir, "redis.conf");
    const lines = [`port ${port}`, "bind 127.0.0.1", 'save ""', "appendonly no", `dir ${dir}`, ...confLines];
    if (password !== "") lines.push(`requirepass "${password}"`);
    fs.writeFileSync(conf, `${lines.join("\n")}\n`, { mode: 0o600 });
    const child = spawn("redis-server", [conf], { stdio: "ignore" });
    const server = new OwnRedisServer(port, child, dir);
    try {
      await server.waitUntilAnswering(password, 10_000);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  private async waitUntilAnswering(password: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const probe = new Redis({ port: this.port, host: "127.0.0.1", password: password || undefined, lazyConnect: true, retryStrategy: () => null, commandTimeout: 500, maxRetriesPerRequest: 0 });
      probe.on("error", () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer: ${(error as Error).message}`);
      } finally {
        probe.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Kills the server (resuming it first if stopped) and removes its dir. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGCONT");
      this.child.kill("SIGKILL");
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
