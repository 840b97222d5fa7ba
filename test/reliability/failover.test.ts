/**
 * Cluster failover under load, on the local runner's real 6-node cluster
 * (cluster-node-timeout 2000 ms): for each write shape, an async client (in this process)
 * and a sync client (in a child process) write keys on all three masters; one master is SIGKILLed.
 *
 * Stated bounds:
 * - every call returns or throws within COMMAND_TIMEOUT_MS (1 s) + CALL_MARGIN_MS (0.75 s);
 * - the replica is promoted, and both clients serve the dead master's slots again, within
 *   NODE_TIMEOUT_MS + RECOVERY_BOUND_MS (2 s + 5 s) of the kill: the node timeout, up to ~2 s
 *   for the FAIL verdict to spread, 0.5-1 s replica election delay, and up to ~2 s for the
 *   client to find the new owner. Measured: 3.0-4.8 s (docs/reliability.md);
 * - the killed node, restarted, rejoins as a replica (link up) within REJOIN_BOUND_MS;
 * - every write shape (SET; write-only `[SET, WAIT]` pipelines; MULTI; MULTI with WAIT; and
 *   the mixed load of `[SET, WAIT]` and GET) writes again within RESUME_AFTER_PROMOTION_MS
 *   (1 s) of the promotion, in both forms: the clients learn the new owner from the first
 *   MOVED, also inside a pipeline's or MULTI's results.
 *
 * WAIT runs in the same batch as its SET (so on the key's master); a write counts as confirmed
 * when WAIT reports a replica. Values grow per key (one writer per key), so "nothing confirmed
 * is lost" means: the final value of a key >= its last confirmed one.
 */
import { expect } from "chai";
import { inspect } from "node:util";
import Redis, { Cluster } from "ioredis";
import { startLocalStack, type LocalStack } from "@redis-on-docker/local";
import { clusterNodes, keysOnEveryMaster, sleep, waitFor, withNode, type ClusterNodeInfo } from "./support/clusterProbe";
import { asyncKeyValue } from "./support/keyValue";
import { NatEmulation } from "./support/natEmulation";
import { CALL_MARGIN_MS, COMMAND_TIMEOUT_MS, WAIT_TIMEOUT_MS, readyAsyncClient, reliabilityConfig } from "./support/stackClients";
import { SyncLoadProcess } from "./support/syncLoad";
import { AsyncWorkload, confirmedValues, summarize, type CallRecord, type WorkloadKey, type WorkloadShape } from "./support/workload";

const NODE_TIMEOUT_MS = 2000;
const RECOVERY_BOUND_MS = 5000;
const REJOIN_BOUND_MS = 10_000;
/** A password with a space, quotes and non-ASCII, so every hop has to carry it intact. */
const PASSWORD = `fo-Secr3t "q" 'x' ü✓ ${"pw"}`;
/** Each form writes one key per master in each of these shapes. */
const SHAPES: readonly WorkloadShape[] = ["mixed", "set", "setWait", "multi", "multiWait"];
/** Bound from the promotion to the first successful write of every shape, in both forms (measured: 50-280 ms). */
const RESUME_AFTER_PROMOTION_MS = 1000;

/** First successful write on `shard` (in `shape`, when given) that started after `since`: the client serves that shard again. */
function firstWriteServed(records: CallRecord[], shard: string, since: number, shape?: WorkloadShape): CallRecord | undefined {
  return records.find((r) => r.op === "write" && r.shard === shard && r.ok && r.start >= since && (shape === undefined || r.shape === shape));
}

/**
 * Polls the replica's ROLE every 10 ms on one connection and resolves with the moment it
 * reports itself master: the promotion, to ~10 ms (CLUSTER NODES polling would add a connection per probe).
 */
async function promotionTime(port: number, password: string, boundMs: number): Promise<number> {
  return withNode({ host: "127.0.0.1", port }, password, async (redis) =>
    waitFor(`ROLE master on ${port}`, boundMs, async () => {
      const role = (await redis.call("ROLE")) as unknown[];
      return role[0] === "master" ? Date.now() : undefined;
    }, 10),
  );
}

function confirmedOnEveryShard(records: CallRecord[], shards: string[]): boolean {
  return shards.every((s) => records.some((r) => r.shard === s && r.op === "write" && r.ok && (r.replicasAcked ?? 0) >= 1));
}

/**
 * `direct`: the local runner's cluster as is (nodes announce 127.0.0.1:<port>).
 * `natMap`: as from a Docker host: the seeds are TCP forwarders (published ports), and the
 * natMap maps each node's announced address to its forwarder; every client connection a node
 * lists must come through a forwarder (see natEmulation.ts).
 */
for (const variant of ["direct", "natMap"] as const) describe(`reliability: cluster failover under load (SIGKILL a master), ${variant}`, function () {
  this.timeout(60_000);

  let stack: LocalStack | undefined;
  // One client per shape and form: a client that runs only write-only [SET, WAIT] pipelines
  // must recover on its own (other shapes on the same client would refresh its slot map).
  const asyncClients: Array<Redis | Cluster> = [];
  const asyncLoads: AsyncWorkload[] = [];
  const syncLoads: SyncLoadProcess[] = [];
  let nat: NatEmulation | undefined;

  before(async function () {
    stack = await startLocalStack({ password: PASSWORD, nodeTimeoutMs: NODE_TIMEOUT_MS });
  });

  after(async function () {
    await Promise.all(asyncLoads.map((l) => l.stop(2000)));
    for (const client of asyncClients) client.disconnect();
    await Promise.all(syncLoads.map((l) => l.dispose()));
    await nat?.stop();
    await stack?.stop();
  });

  it("promotes the replica, both forms recover in bounded time, nothing confirmed is lost, the old master rejoins", async function () {
    const live = stack as LocalStack;
    const seed = live.outputs.cluster.seeds[0];
    if (variant === "natMap") nat = await NatEmulation.start(live.outputs.cluster.seeds.map((s) => s.port));
    const outputs = nat !== undefined ? nat.outputs(live.outputs) : live.outputs;

    // Precondition: the seed's view has settled on 3 masters with slots, each with its replica.
    const initialView = await waitFor("3 masters with slots and 3 replicas in CLUSTER NODES", 10_000, async () => {
      const view = await clusterNodes(seed, PASSWORD);
      const withSlots = view.filter((n) => n.role === "master" && n.slots.length > 0);
      const replicas = view.filter((n) => n.role === "replica" && withSlots.some((m) => m.id === n.masterId));
      return withSlots.length === 3 && replicas.length === 3 ? view : undefined;
    });
    const masters = initialView.filter((n) => n.role === "master" && n.slots.length > 0);
    const victim = masters[1];
    const victimReplica = initialView.find((n) => n.masterId === victim.id) as ClusterNodeInfo;
    expect(victimReplica, `a replica of ${victim.port}`).to.not.equal(undefined);
    const victimNode = live.nodes.find((n) => n.port === victim.port);
    expect(victimNode, `local runner node on port ${victim.port}`).to.not.equal(undefined);

    const asyncKeys = await keysOnEveryMaster(seed, PASSWORD, "fo:a:", SHAPES.length);
    const syncKeys = await keysOnEveryMaster(seed, PASSWORD, "fo:s:", SHAPES.length);
    // The n-th key of each master gets the n-th shape.
    const toWorkload = (keys: Map<string, string>): WorkloadKey[] => {
      const seen = new Map<string, number>();
      return [...keys].map(([key, shard]) => {
        const n = seen.get(shard) ?? 0;
        seen.set(shard, n + 1);
        return { key, shard, shape: SHAPES[n] };
      });
    };
    const shards = masters.map((m) => m.id);

    const asyncRecords: CallRecord[] = [];
    const syncRecords: CallRecord[] = [];
    const ofShape = (keys: WorkloadKey[], shape: WorkloadShape): WorkloadKey[] => keys.filter((k) => k.shape === shape);
    for (const shape of SHAPES) {
      const client = await readyAsyncClient(reliabilityConfig(outputs, "cluster", "async"));
      asyncClients.push(client);
      const spec = { keys: ofShape(toWorkload(asyncKeys), shape), waitTimeoutMs: WAIT_TIMEOUT_MS, pauseMs: 5 };
      asyncLoads.push(new AsyncWorkload(asyncKeyValue(client), spec, asyncRecords));
    }
    const started = await Promise.allSettled(
      SHAPES.map((shape) =>
        SyncLoadProcess.start(
          reliabilityConfig(outputs, "cluster", "sync"),
          { keys: ofShape(toWorkload(syncKeys), shape), waitTimeoutMs: WAIT_TIMEOUT_MS, pauseMs: 5 },
          20_000,
          syncRecords,
        ),
      ),
    );
    for (const result of started) if (result.status === "fulfilled") syncLoads.push(result.value);
    const notStarted = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (notStarted) throw notStarted.reason;
    for (const load of asyncLoads) load.start();

    // Warm-up: each form has a replica-confirmed write on every master (so replication is live).
    await waitFor("replica-confirmed writes on all masters from both forms", 10_000, async () =>
      confirmedOnEveryShard(asyncRecords, shards) && confirmedOnEveryShard(syncRecords, shards) ? true : undefined,
    );
    const confirmedBeforeKill = {
      async: confirmedValues(asyncRecords.filter((r) => r.shard === victim.id)).size,
      sync: confirmedValues(syncRecords.filter((r) => r.shard === victim.id)).size,
    };

    // --- kill ---
    const promotion = promotionTime(victimReplica.port, PASSWORD, NODE_TIMEOUT_MS + 15_000);
    promotion.catch(() => undefined); // awaited below
    await live.killNode(victimNode!.name, "SIGKILL");
    const killedAt = Date.now();

    const promotedAt = await promotion;
    await waitFor(`promotion of ${victimReplica.port} in CLUSTER NODES`, NODE_TIMEOUT_MS + 15_000, async () => {
      const view = await clusterNodes({ host: seed.host, port: victimReplica.port }, PASSWORD);
      const promoted = view.find((n) => n.id === victimReplica.id);
      const dead = view.find((n) => n.id === victim.id);
      return promoted?.role === "master" && promoted.slots.length > 0 && dead?.flags.includes("fail") ? Date.now() : undefined;
    });
    const resumeDeadline = NODE_TIMEOUT_MS + RECOVERY_BOUND_MS;
    const asyncResumed = await waitFor("async client serving the failed-over slots", resumeDeadline + 5000, async () =>
      firstWriteServed(asyncRecords, victim.id, killedAt),
    );
    const syncResumed = await waitFor("sync client serving the failed-over slots", resumeDeadline + 5000, async () =>
      firstWriteServed(syncRecords, victim.id, killedAt),
    );
    // Every shape of both forms, from the promotion (the bound is checked below, with the figures).
    const resumeAfterPromotion: Record<string, number> = {};
    for (const [form, records] of [["async", asyncRecords], ["sync", syncRecords]] as const) {
      for (const shape of SHAPES) {
        const first = await waitFor(`${form} ${shape} writes on the failed-over slots`, RESUME_AFTER_PROMOTION_MS + 5000, async () =>
          firstWriteServed(records, victim.id, killedAt, shape),
        );
        resumeAfterPromotion[`${form} ${shape}`] = first.end - promotedAt;
      }
    }

    // --- restart the killed node: it must come back as a replica of the promoted one ---
    await live.restartNode(victimNode!.name);
    const restartedAt = Date.now();
    const rejoinedAt = await waitFor("old master rejoined as a replica with a live link", REJOIN_BOUND_MS, async () => {
      const view = await clusterNodes({ host: seed.host, port: victim.port }, PASSWORD);
      const self = view.find((n) => n.id === victim.id);
      if (self?.role !== "replica" || self.masterId !== victimReplica.id) return undefined;
      const replication = await withNode({ host: seed.host, port: victim.port }, PASSWORD, async (r) => r.info("replication"));
      return /master_link_status:up/.test(replication) ? Date.now() : undefined;
    });
    // Both forms keep working afterwards: a window of load with the node back.
    await sleep(1500);
    if (nat !== undefined) {
      // Both forms' connections are live now: each must come through a forwarder (the natMap), on every node.
      // Polled: a probe connection of this test may take a moment to close.
      const emulation = nat;
      await waitFor("every client connection through a forwarder", 3000, async () =>
        (await emulation.directClientConnections(PASSWORD)).length === 0 ? true : undefined,
      ).catch(async (error: Error) => {
        throw new Error(`${error.message}: ${(await emulation.directClientConnections(PASSWORD)).join("; ")}`);
      });
      expect(await nat.forwardersUsed(), "forwarders that carried connections").to.be.at.least(3);
    }

    await Promise.all(asyncLoads.map((l) => l.stop(COMMAND_TIMEOUT_MS + CALL_MARGIN_MS + 1000)));
    const asyncPending = asyncLoads.reduce((sum, l) => sum + l.pending, 0);
    const asyncAttempts = asyncLoads.reduce((sum, l) => sum + l.attemptCount, 0);
    const syncEnds = await Promise.all(syncLoads.map((l) => l.stop(COMMAND_TIMEOUT_MS + CALL_MARGIN_MS + 5000)));
    const syncEnd = {
      attempts: syncEnds.reduce((sum, e) => sum + e.attempts, 0),
      exitedOnItsOwn: syncEnds.every((e) => e.exitedOnItsOwn),
    };

    // --- read back every key through a fresh plain ioredis cluster client (not the connector) ---
    const allKeys = [...asyncKeys.keys(), ...syncKeys.keys()];
    const finalValues = new Map<string, number>();
    const reader = new Cluster(outputs.cluster.seeds, {
      natMap: outputs.cluster.natMap,
      redisOptions: { password: PASSWORD, commandTimeout: 2000, connectTimeout: 2000 },
      clusterRetryStrategy: () => null,
    });
    reader.on("error", () => undefined);
    try {
      // One GET per key: the keys span all slots (MGET would be CROSSSLOT).
      const values = await Promise.all(allKeys.map((k) => reader.get(k)));
      allKeys.forEach((k, i) => finalValues.set(k, values[i] === null ? -1 : Number(values[i])));
    } finally {
      reader.disconnect();
    }

    const report = {
      promotedMs: promotedAt - killedAt,
      asyncResumeMs: asyncResumed.end - killedAt,
      syncResumeMs: syncResumed.end - killedAt,
      resumeAfterPromotionMs: resumeAfterPromotion,
      rejoinMs: rejoinedAt - restartedAt,
      async: summarize(asyncRecords),
      sync: summarize(syncRecords),
      confirmedBeforeKill,
    };
    // The recovery figures docs/reliability.md quotes come from this line.
    console.log(`      failover figures (${variant}): ${JSON.stringify(report)}`);

    // 1. The replica was promoted (checked by waitFor) — and within the node timeout + election.
    expect(report.promotedMs, "kill -> replica promoted (ms)").to.be.at.most(resumeDeadline);
    // 2. Both forms serve the slots again in bounded time.
    expect(report.asyncResumeMs, "kill -> async client serves the slots again (ms)").to.be.at.most(resumeDeadline);
    expect(report.syncResumeMs, "kill -> sync client serves the slots again (ms)").to.be.at.most(resumeDeadline);
    // ... and every write shape, in both forms, within 1 s of the promotion.
    const late = Object.entries(resumeAfterPromotion).filter(([, ms]) => ms > RESUME_AFTER_PROMOTION_MS);
    expect(late, `shapes writing again later than ${RESUME_AFTER_PROMOTION_MS} ms after the promotion`).to.deep.equal([]);
    // The failover happened under load that was really confirmed by the victim's replica.
    expect(confirmedBeforeKill.async, "async keys on the victim confirmed before the kill").to.be.greaterThan(0);
    expect(confirmedBeforeKill.sync, "sync keys on the victim confirmed before the kill").to.be.greaterThan(0);

    // 3. Nothing acknowledged and confirmed by WAIT is lost: values only grow per key.
    const lost: string[] = [];
    for (const records of [asyncRecords, syncRecords]) {
      for (const [key, confirmed] of confirmedValues(records)) {
        const final = finalValues.get(key) ?? -1;
        if (final < confirmed) lost.push(`${key}: confirmed ${confirmed}, read back ${final}`);
      }
    }
    expect(lost, "replica-confirmed writes lost").to.deep.equal([]);

    // 4. No silent drops: every call settled, as a value or as a thrown Error.
    expect(asyncPending, "async calls that never settled").to.equal(0);
    expect(asyncAttempts, "async attempts = successes + errors").to.equal(asyncRecords.length);
    expect(syncEnd.attempts, "sync attempts = successes + errors").to.equal(syncRecords.length);
    const notErrors = [...asyncRecords, ...syncRecords].filter((r) => !r.ok && (r.error ?? "").startsWith("non-Error"));
    expect(notErrors, "failures that were not Error objects").to.deep.equal([]);
    expect(report.async.errors + report.sync.errors, "the kill surfaced as errors to callers").to.be.greaterThan(0);

    // 5. No call outlived the command timeout (plus a margin for a loaded 2-core machine).
    const slow = [...asyncRecords, ...syncRecords]
      .filter((r) => r.end - r.start > COMMAND_TIMEOUT_MS + CALL_MARGIN_MS)
      .map((r) => `${r.form} ${r.op} ${r.key} ${r.end - r.start} ms (${r.ok ? "ok" : r.error}) at kill+${r.start - killedAt} ms`);
    expect(slow, `calls longer than ${COMMAND_TIMEOUT_MS} + ${CALL_MARGIN_MS} ms`).to.deep.equal([]);

    // 6. After the old master rejoined, both forms served every master without an error.
    for (const [form, records] of [["async", asyncRecords], ["sync", syncRecords]] as const) {
      const after = records.filter((r) => r.start >= rejoinedAt);
      expect(after.filter((r) => !r.ok).map((r) => r.error), `${form} errors after the rejoin`).to.deep.equal([]);
      for (const shard of shards) {
        expect(after.some((r) => r.shard === shard && r.ok), `${form} served shard ${shard} after the rejoin`).to.equal(true);
      }
    }
    // The sync client's process ends on its own after close() (its worker does not keep it alive).
    expect(syncEnd.exitedOnItsOwn, "sync load process exited after close()").to.equal(true);

    // No error message any caller saw carries the password.
    const leaks = [...asyncRecords, ...syncRecords].filter((r) => (r.error ?? "").includes(PASSWORD));
    expect(leaks.length, "error messages containing the password").to.equal(0);
    expect(inspect(report).includes(PASSWORD)).to.equal(false);
  });
});
