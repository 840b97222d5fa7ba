/**
 * A single redis-server the test starts itself, for configurations the local runner does not
 * make (e.g. a command renamed away). Config (and password) in a 0600 file in a private temp
 * dir, free port, bounded start and stop; `stop()` also removes the dir.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { quoteConfigArgument } from "@redis-on-docker/topology";
import { registerExitCleanup } from "../../../local/src/exitCleanup";
import { findFreePorts } from "../../../local/src/freePorts";
import { processStartTime } from "../../../local/src/processControl";
import { sleep, waitFor, withNode } from "./clusterProbe";

export interface OwnRedis {
  port: number;
  stop(): Promise<void>;
}

export async function startOwnRedis(password: string, extraDirectives: string[]): Promise<OwnRedis> {
  const [port] = await findFreePorts(1, { withBusPort: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reliability-redis-"));
  const configPath = path.join(dir, "redis.conf");
  const lines = [
    `port ${port}`,
    "bind 127.0.0.1",
    `dir ${quoteConfigArgument(dir)}`,
    'save ""',
    "appendonly no",
    `logfile ${quoteConfigArgument(path.join(dir, "redis.log"))}`,
    ...extraDirectives,
  ];
  if (password !== "") lines.push(`requirepass ${quoteConfigArgument(password, true)}`);
  fs.writeFileSync(configPath, lines.join("\n") + "\n", { mode: 0o600 });
  const child = spawn("redis-server", [configPath], { cwd: dir, stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  // Also gone when mocha is interrupted or dies before `stop()`.
  const identity = child.pid === undefined ? [] : [{ pid: child.pid, startTime: processStartTime(child.pid) ?? "" }];
  const unregister = registerExitCleanup({ processes: () => (running ? identity : []), paths: () => [dir] });

  const stop = async (): Promise<void> => {
    if (running) {
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(3000)]);
      if (running) {
        child.kill("SIGKILL");
        await Promise.race([exited, sleep(2000)]);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    unregister();
  };
  try {
    await waitFor(`redis-server on port ${port}`, 5000, async () => {
      if (!running) throw new Error("redis-server exited at start-up");
      return (await withNode({ host: "127.0.0.1", port }, password, (r) => r.ping())) === "PONG" ? true : undefined;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, stop };
}
