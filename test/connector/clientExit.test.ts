/**
 * An app's process exits once it disconnects its cluster client, also when the client's
 * periodic slot refresh (every 5 s) is in flight at that moment. ioredis's own
 * `slotsRefreshInterval` arms its next round from that refresh's callback, on the ended client,
 * for ever: the process never exits (seen as mocha alive after the whole suite).
 */
import { fork } from "node:child_process";
import path from "node:path";
import { expect } from "chai";
import { startLocalStack, type LocalStack } from "@redis-on-docker/local";

describe("connector: the process exits after disconnect, even with a slot refresh in flight", function () {
  this.timeout(60_000);
  let stack: LocalStack | undefined;
  after(async () => {
    for (const n of stack?.nodes ?? []) if (n.pid !== undefined) process.kill(n.pid, "SIGCONT");
    await stack?.stop();
  });

  it("disconnect() while the periodic refresh waits on stopped nodes: the child exits", async function () {
    stack = await startLocalStack();
    const live = stack;
    const child = fork(path.join(__dirname, "support", "disconnectChild.js"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const next = (type: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child sent no ${type} within 10 s`)), 10_000);
        child.on("message", (m: { type: string }) => {
          if (m.type === type) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    const cluster = live.nodes.filter((n) => n.role === "cluster");
    try {
      const ready = next("ready");
      child.send({ outputs: live.outputs });
      await ready;
      const readyAt = Date.now();
      // The periodic refresh starts 5 s after ready; stopped nodes hold it (up to its 2 s timeout).
      await new Promise((r) => setTimeout(r, 4700));
      for (const n of cluster) process.kill(n.pid!, "SIGSTOP");
      await new Promise((r) => setTimeout(r, Math.max(0, readyAt + 5600 - Date.now())));
      const disconnected = next("disconnected");
      child.send({ type: "disconnect" });
      await disconnected;
      for (const n of cluster) process.kill(n.pid!, "SIGCONT");
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running 12 s after disconnect()"), 12_000))]);
      expect(code, "the child's exit").to.equal(0);
    } finally {
      for (const n of cluster) process.kill(n.pid!, "SIGCONT");
      child.kill("SIGKILL");
    }
  });
});
