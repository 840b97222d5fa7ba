/**
 * Standalone server stopped and restarted under load, on the local runner: an async client
 * (this process) and a sync client (child process) keep writing and reading.
 *
 * Stated bounds:
 * - while the server is down (GAP_MS, longer than the command timeout) callers get errors,
 *   each within COMMAND_TIMEOUT_MS + CALL_MARGIN_MS: nothing hangs, nothing is silently dropped;
 * - after the restart both forms serve again within RESUME_BOUND_MS (the connector's default
 *   reconnect delay cap, 2000 ms, + connect timeout + margin) and then without errors.
 */
import { expect } from "chai";
import Redis, { type Cluster } from "ioredis";
import { startLocalStack, type LocalStack } from "@redis-on-docker/local";
import { sleep, waitFor } from "./support/clusterProbe";
import { asyncKeyValue } from "./support/keyValue";
import { COMMAND_TIMEOUT_MS, CONNECT_TIMEOUT_MS, readyAsyncClient, reliabilityConfig } from "./support/stackClients";
import { SyncLoadProcess } from "./support/syncLoad";
import { AsyncWorkload, summarize, type CallRecord, type WorkloadKey } from "./support/workload";

/** The sync facade allows itself commandTimeoutMs + 500 ms; 250 ms more for scheduling on a loaded machine. */
const CALL_MARGIN_MS = 750;
const GAP_MS = 2500;
const RECONNECT_DELAY_CAP_MS = 2000; // the connector's default reconnectMaxDelayMs
const RESUME_BOUND_MS = RECONNECT_DELAY_CAP_MS + CONNECT_TIMEOUT_MS + 1000;
const PASSWORD = `sr-Secr3t "dq" 'sq' ßü ${"pw"}`;

function keys(prefix: string): WorkloadKey[] {
  return Array.from({ length: 6 }, (_, i) => ({ key: `${prefix}${i}`, shard: "standalone" }));
}

function firstOkAfter(records: CallRecord[], since: number): CallRecord | undefined {
  return records.find((r) => r.ok && r.start >= since);
}

describe("reliability: standalone restart under load", function () {
  this.timeout(60_000);

  let stack: LocalStack | undefined;
  let asyncClient: Redis | Cluster | undefined;
  let asyncLoad: AsyncWorkload | undefined;
  let syncLoad: SyncLoadProcess | undefined;

  before(async function () {
    stack = await startLocalStack({ password: PASSWORD });
  });

  after(async function () {
    await asyncLoad?.stop(2000);
    asyncClient?.disconnect();
    await syncLoad?.dispose();
    await stack?.stop();
  });

  it("both forms surface errors during the gap, bounded, and resume after the restart", async function () {
    const live = stack as LocalStack;
    const standalone = live.nodes.find((n) => n.role === "standalone");
    expect(standalone, "standalone node").to.not.equal(undefined);

    asyncClient = await readyAsyncClient(reliabilityConfig(live.outputs, "standalone", "async"));
    asyncLoad = new AsyncWorkload(asyncKeyValue(asyncClient), { keys: keys("sr:a:"), waitTimeoutMs: 0, pauseMs: 5 });
    syncLoad = await SyncLoadProcess.start(
      reliabilityConfig(live.outputs, "standalone", "sync"),
      { keys: keys("sr:s:"), waitTimeoutMs: 0, pauseMs: 5 },
      15_000,
    );
    asyncLoad.start();
    const asyncRecords = asyncLoad.records;
    const syncRecords = syncLoad.records;
    await waitFor("both forms writing", 5000, async () =>
      asyncRecords.some((r) => r.ok) && syncRecords.some((r) => r.ok) ? true : undefined,
    );

    await live.killNode(standalone!.name, "SIGTERM");
    const stoppedAt = Date.now();
    await sleep(GAP_MS);
    await live.restartNode(standalone!.name);
    const restartedAt = Date.now();

    const asyncResumed = await waitFor("async client serving again", RESUME_BOUND_MS + 5000, async () => firstOkAfter(asyncRecords, restartedAt));
    const syncResumed = await waitFor("sync client serving again", RESUME_BOUND_MS + 5000, async () => firstOkAfter(syncRecords, restartedAt));
    const resumedAt = Math.max(asyncResumed.end, syncResumed.end);
    await sleep(1000);

    await asyncLoad.stop(COMMAND_TIMEOUT_MS + CALL_MARGIN_MS + 1000);
    const syncEnd = await syncLoad.stop(COMMAND_TIMEOUT_MS + CALL_MARGIN_MS + 5000);

    const report = {
      gapMs: restartedAt - stoppedAt,
      asyncResumeMs: asyncResumed.end - restartedAt,
      syncResumeMs: syncResumed.end - restartedAt,
      async: summarize(asyncRecords),
      sync: summarize(syncRecords),
    };
    console.log(`      standalone restart figures: ${JSON.stringify(report)}`);

    for (const [form, records] of [["async", asyncRecords], ["sync", syncRecords]] as const) {
      // Errors during the gap reached the caller (the gap is longer than the command timeout).
      const gapErrors = records.filter((r) => !r.ok && r.start >= stoppedAt && r.start < restartedAt);
      expect(gapErrors.length, `${form} errors surfaced while the server was down`).to.be.greaterThan(0);
      expect(records.filter((r) => !r.ok && r.error?.startsWith("non-Error")), `${form} non-Error failures`).to.deep.equal([]);
      // Bounded: no call outlived the command timeout.
      const slow = records
        .filter((r) => r.end - r.start > COMMAND_TIMEOUT_MS + CALL_MARGIN_MS)
        .map((r) => `${r.op} ${r.end - r.start} ms (${r.ok ? "ok" : r.error}) at stop+${r.start - stoppedAt} ms`);
      expect(slow, `${form} calls longer than ${COMMAND_TIMEOUT_MS} + ${CALL_MARGIN_MS} ms`).to.deep.equal([]);
      // After both resumed: no more errors.
      const lateErrors = records.filter((r) => r.start >= resumedAt && !r.ok).map((r) => r.error);
      expect(lateErrors, `${form} errors after it resumed`).to.deep.equal([]);
      expect(records.some((r) => r.ok && r.start >= resumedAt), `${form} served after the restart`).to.equal(true);
      expect(records.filter((r) => (r.error ?? "").includes(PASSWORD)), `${form} errors carrying the password`).to.deep.equal([]);
    }
    expect(report.asyncResumeMs, "restart -> async serves (ms)").to.be.at.most(RESUME_BOUND_MS);
    expect(report.syncResumeMs, "restart -> sync serves (ms)").to.be.at.most(RESUME_BOUND_MS);
    // No silent drops.
    expect(asyncLoad.pending, "async calls that never settled").to.equal(0);
    expect(asyncLoad.attemptCount, "async attempts = successes + errors").to.equal(asyncRecords.length);
    expect(syncEnd.attempts, "sync attempts = successes + errors").to.equal(syncRecords.length);
    expect(syncEnd.exitedOnItsOwn, "sync load process exited after close()").to.equal(true);
  });
});
