/**
 * Every cluster node down for longer than the client's bounds (a host or Docker restart):
 * calls fail fast with an error while it lasts, and the same client, in both forms, serves
 * again once the nodes are back — it does not give up for good.
 */
import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConnectorClient } from "@redis-on-docker/connector";
import { parseInfo, probeRedis } from "../../local/src/redisProbe";
import { useLocalStack } from "../support/localStack";
import { SHORT_BOUNDS, SLACK_MS, TIMEOUT_MS } from "./support/bounds";
import { asBehaviourClient, closeClient, modeConfig, openClient } from "./support/modes";

/** The outage lasts well past every client bound (connect, command, reconnect cap). */
const OUTAGE_MS = 4 * TIMEOUT_MS;
const RECOVERY_BOUND_MS = 20_000;

async function timedCall(call: () => unknown): Promise<{ error?: Error; elapsedMs: number }> {
  const started = Date.now();
  try {
    await call();
    return { elapsedMs: Date.now() - started };
  } catch (error) {
    return { error: error as Error, elapsedMs: Date.now() - started };
  }
}

describe("connector: the whole cluster down for longer than the client's bounds", function () {
  this.timeout(90_000);
  const stack = useLocalStack();
  const clients: ConnectorClient[] = [];

  after(() => clients.forEach((c) => closeClient(c)));

  it("fails calls fast during the outage, then the same async and sync clients serve again", async function () {
    const { outputs } = stack();
    for (const form of ["async", "sync"] as const) {
      clients.push(await openClient(modeConfig({ topology: "cluster", form }, outputs, SHORT_BOUNDS)));
    }
    const [asyncClient, syncClient] = clients.map(asBehaviourClient);
    await asyncClient.set("outage:{a}", "before");
    expect(await syncClient.get("outage:{a}")).to.equal("before");

    const clusterNodes = stack().nodes.filter((n) => n.role === "cluster");
    for (const node of clusterNodes) await stack().killNode(node.name, "SIGKILL");

    const outageStarted = Date.now();
    while (Date.now() - outageStarted < OUTAGE_MS) {
      for (const client of [asyncClient, syncClient]) {
        const call = await timedCall(() => client.get("outage:{a}"));
        expect(call.error, "a call during the outage must fail, not succeed").to.be.instanceOf(Error);
        expect(call.elapsedMs, `${call.error?.message}`).to.be.below(TIMEOUT_MS + SLACK_MS);
      }
      await sleep(250);
    }

    for (const node of clusterNodes) await stack().restartNode(node.name);
    const restarted = Date.now();
    for (const node of clusterNodes) {
      for (;;) {
        const info = await probeRedis(node.port, ["CLUSTER", "INFO"], { password: outputs.password, timeoutMs: 1000 }).catch(() => "");
        if (parseInfo(String(info)).get("cluster_state") === "ok") break;
        expect(Date.now() - restarted, `${node.name} back to cluster_state:ok`).to.be.below(RECOVERY_BOUND_MS);
        await sleep(100);
      }
    }

    for (const [name, client] of [["async", asyncClient], ["sync", syncClient]] as const) {
      for (;;) {
        const call = await timedCall(() => client.set("outage:{a}", `after ${name}`));
        if (!call.error) break;
        expect(call.elapsedMs, call.error.message).to.be.below(TIMEOUT_MS + SLACK_MS);
        expect(Date.now() - restarted, `${name} client serving again (last error: ${call.error.message})`).to.be.below(RECOVERY_BOUND_MS);
        await sleep(200);
      }
      expect(await client.get("outage:{a}")).to.equal(`after ${name}`);
    }
  });
});
