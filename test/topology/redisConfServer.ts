/**
 * Starts a real redis-server from a rendered redis.conf on a free loopback port, and talks
 * RESP to it over a plain socket (so the bytes sent are exactly the password's UTF-8).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A free loopback port whose cluster-bus port (+10000) is free too. */
export async function freePortWithBus(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort(0);
    if (port + 10000 > 65535) continue;
    if ((await freePort(port + 10000).catch(() => 0)) === port + 10000) return port;
  }
  throw new Error("no free loopback port pair (port, port+10000) found in 50 attempts");
}

function freePort(wanted: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(wanted, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// Servers still running when the test process exits (a failed or interrupted run) are killed with it.
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface RunningRedis {
  port: number;
  dir: string;
  /** RESP request; resolves to the raw reply text (e.g. `+OK\r\n`, `-WRONGPASS ...`). */
  command(args: Array<string | Buffer>, timeoutMs?: number): Promise<string>;
  /** Several requests on one connection (so AUTH applies to the rest); one raw reply each. */
  session(commands: Array<Array<string | Buffer>>, timeoutMs?: number): Promise<string[]>;
  stop(): Promise<void>;
}

/** Writes `renderConf(dir, port)` to a temp dir and starts redis-server on it; waits (bounded) until it accepts connections. */
export async function startRedisFromConf(
  renderConf: (dir: string, port: number) => string,
  readyTimeoutMs = 10000,
): Promise<RunningRedis> {
  const dir = mkdtempSync(join(tmpdir(), "redis-conf-test-"));
  const port = await freePortWithBus();
  const confPath = join(dir, "redis.conf");
  writeFileSync(confPath, renderConf(dir, port), { mode: 0o600 });
  const child: ChildProcess = spawn("redis-server", [confPath], { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      running.delete(child);
      resolve();
    }),
  );

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const command = (args: Array<string | Buffer>, timeoutMs = 3000): Promise<string> =>
    session([args], timeoutMs).then((replies) => replies[0]);

  const session = (commands: Array<Array<string | Buffer>>, timeoutMs = 3000): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      let received = Buffer.alloc(0);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no reply from redis-server on ${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.on("data", (d: Buffer) => {
        received = Buffer.concat([received, d]);
        const replies: string[] = [];
        let offset = 0;
        while (replies.length < commands.length) {
          const end = replyEnd(received, offset);
          if (end === undefined) return;
          replies.push(received.subarray(offset, end).toString("utf8"));
          offset = end;
        }
        clearTimeout(timer);
        socket.end();
        resolve(replies);
      });
      socket.write(Buffer.concat(commands.map(encodeCommand)));
    });

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server exited with ${child.exitCode} on the rendered config:\n${output}`);
    }
    try {
      await command(["PING"], 500);
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server on ${port} not ready within ${readyTimeoutMs} ms: ${String(error)}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { port, dir, command, session, stop };
}

function encodeCommand(args: Array<string | Buffer>): Buffer {
  const parts = args.map((a) => (typeof a === "string" ? Buffer.from(a, "utf8") : a));
  return Buffer.concat([
    Buffer.from(`*${parts.length}\r\n`),
    ...parts.flatMap((p) => [Buffer.from(`$${p.length}\r\n`), p, Buffer.from("\r\n")]),
  ]);
}

/** End offset of the RESP reply starting at `offset`, or undefined while it is incomplete. */
function replyEnd(buffer: Buffer, offset: number): number | undefined {
  const lineEnd = buffer.indexOf("\r\n", offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset]);
  const header = buffer.subarray(offset + 1, lineEnd).toString("latin1");
  if (type === "+" || type === "-" || type === ":") return lineEnd + 2;
  if (type === "$") {
    const length = Number(header);
    if (length < 0) return lineEnd + 2;
    const end = lineEnd + 2 + length + 2;
    return buffer.length >= end ? end : undefined;
  }
  if (type === "*") {
    let next: number | undefined = lineEnd + 2;
    for (let i = 0; i < Number(header); i++) {
      next = replyEnd(buffer, next);
      if (next === undefined) return undefined;
    }
    return next;
  }
  throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
}
