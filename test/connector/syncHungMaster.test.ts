/**
 * A hung cluster master (SIGSTOP: a network partition looks the same to a client — the socket
 * stays open, calls time out) while its replica is promoted: the sync client's fast lane must
 * leave it as fast as its worker path does (ioredis: the next slot refresh finds the new
 * master), and no write it acknowledges may be lost when the old master comes back demoted.
 * Both paths run side by side on one cluster of their own, key by key.
 */
import { expect } from "chai";
import { createSyncClient, loadConfig, type SyncRedisClient } from "@redis-on-docker/connector";
import { clusterNodes, sleep, waitFor, withNode } from "../reliability/support/clusterProbe";
import { useLocalStack } from "../support/localStack";

const NODE_TIMEOUT_MS = 2000;
const COMMAND_TIMEOUT_MS = 500;

interface PathRun {
  name: string;
  client: SyncRedisClient;
  key: string;
  /** The last value the server acknowledged for `key`. */
  acked: string | undefined;
  /** ms after the freeze of the first acknowledged write. */
  recoveredAfterMs: number | undefined;
  okInARow: number;
}

describe("sync client: a hung cluster master — the fast lane follows the failover as fast as the worker path, and loses no acknowledged write", function () {
  this.timeout(90_000);
  const stack = useLocalStack({ nodeTimeoutMs: NODE_TIMEOUT_MS });

  it("SIGSTOP a master, its replica takes over: both paths write again, within a second of each other; after SIGCONT every acknowledged write is there", async function () {
    const outputs = stack().outputs;
    const config = loadConfig({
      env: {},
      outputs,
      overrides: { topology: "cluster", form: "sync", commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 5000 },
    });
    const seed = outputs.cluster.seeds[0];
    const nodes = await clusterNodes(seed, outputs.password);
    const victim = nodes.find((n) => n.role === "master" && n.slots.length > 0);
    if (victim === undefined) throw new Error("no master with slots");
    const victimProcess = stack().nodes.find((n) => n.port === victim.port);
    if (victimProcess === undefined) throw new Error(`no process on port ${victim.port}`);
    const [first, last] = victim.slots[0];
    const keysOnVictim: string[] = [];
    for (let i = 0; keysOnVictim.length < 2; i++) {
      const key = `hung:${i}`;
      const slot = Number(await withNode(seed, outputs.password, (r) => r.call("CLUSTER", "KEYSLOT", key)));
      if (slot >= first && slot <= last) keysOnVictim.push(key);
    }
    const runs: PathRun[] = [
      { name: "fast lane", client: createSyncClient(config), key: keysOnVictim[0], acked: undefined, recoveredAfterMs: undefined, okInARow: 0 },
      { name: "worker path", client: createSyncClient(config, { fastLane: false }), key: keysOnVictim[1], acked: undefined, recoveredAfterMs: undefined, okInARow: 0 },
    ];
    let frozen = false;
    try {
      for (const run of runs) {
        expect(run.client.set(run.key, "before")).to.equal("OK");
        run.acked = "before";
        expect(run.client.get(run.key)).to.equal("before");
      }
      process.kill(victimProcess.pid, "SIGSTOP");
      frozen = true;
      const frozenAt = performance.now();
      const write = (run: PathRun, value: string): void => {
        const started = performance.now();
        try {
          if (run.client.set(run.key, value) === "OK") {
            run.acked = value;
            run.recoveredAfterMs ??= performance.now() - frozenAt;
            run.okInARow++;
          }
        } catch {
          // A timeout while the master is hung: may or may not have run; the key holds one of the values.
          run.okInARow = 0;
        }
        expect(performance.now() - started, `${run.name}: a call past its bound`).to.be.below(COMMAND_TIMEOUT_MS + 500 + 1000);
      };
      // Both paths, one call each in turn, until each has written 5 times in a row (bounded).
      for (let i = 0; runs.some((r) => r.okInARow < 5); i++) {
        if (performance.now() - frozenAt > 30_000) {
          throw new Error(`not every path recovered within 30 s: ${runs.map((r) => `${r.name} ${r.recoveredAfterMs === undefined ? "never" : `${Math.round(r.recoveredAfterMs)} ms`}`).join(", ")}`);
        }
        for (const run of runs) write(run, `during-${i}`);
      }
      const [lane, worker] = runs.map((r) => r.recoveredAfterMs as number);
      console.log(`      hung master: first acknowledged write after the freeze: fast lane ${Math.round(lane)} ms, worker path ${Math.round(worker)} ms`);
      // One turn of the loop is at most two calls' bounds: the two paths see the same slot map.
      expect(lane, "the fast lane left the hung master no later than the worker path (+ one turn)").to.be.at.most(worker + 2 * COMMAND_TIMEOUT_MS + 500);

      // The old master wakes up, is demoted; writes go on meanwhile.
      process.kill(victimProcess.pid, "SIGCONT");
      frozen = false;
      const wokeAt = performance.now();
      for (let i = 0; performance.now() - wokeAt < 2000; i++) for (const run of runs) write(run, `after-${i}`);
      await waitFor("the old master to become a replica", 20_000, async () => {
        const role = await withNode({ host: "127.0.0.1", port: victim.port }, outputs.password, (r) => r.call("ROLE"));
        return Array.isArray(role) && role[0] === "slave" ? true : undefined;
      }, 100);
      await sleep(500);
      for (const run of runs) {
        // The key's current owner holds what was acknowledged last.
        const current = await clusterNodes(seed, outputs.password);
        const slot = Number(await withNode(seed, outputs.password, (r) => r.call("CLUSTER", "KEYSLOT", run.key)));
        const owner = current.find((n) => n.role === "master" && n.slots.some(([a, b]) => slot >= a && slot <= b));
        if (owner === undefined) throw new Error(`no owner for slot ${slot}`);
        const stored = await withNode({ host: "127.0.0.1", port: owner.port }, outputs.password, (r) => r.get(run.key));
        expect(stored, `${run.name}: the last acknowledged write`).to.equal(run.acked);
        expect(run.client.get(run.key), `${run.name}: reads it back`).to.equal(run.acked);
      }
    } finally {
      if (frozen) process.kill(victimProcess.pid, "SIGCONT");
      for (const run of runs) run.client.close();
    }
  });
});
