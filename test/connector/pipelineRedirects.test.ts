/**
 * A slot changes owner (CLUSTER SETSLOT ... NODE, as after a failover or a resharding): a
 * cluster client must follow it from the first MOVED reply inside a pipeline or MULTI, in
 * both forms. ioredis alone does not for a write-only pipeline such as `[SET, WAIT]` (the
 * WAIT succeeds on the old owner, so ioredis neither retries nor refreshes its slot map)
 * and keeps failing until its periodic slot refresh (here 5 s).
 */
import { expect } from "chai";
import type { ConnectorClient, StackOutputs } from "@redis-on-docker/connector";
import { parseClusterNodes, withNode, type ClusterNodeInfo } from "../reliability/support/clusterProbe";
import { useLocalStack } from "../support/localStack";
import { closeClient, modeConfig, openClient, type Mode } from "./support/modes";

type PipelineResults = Array<[Error | null, unknown]> | null;

/** The two batch shapes, as both forms spell them (a sync result is returned, an async one awaited). */
interface BatchClient {
  pipeline(): { set(k: string, v: string): unknown; wait(n: number, ms: number): unknown; exec(): PipelineResults | Promise<PipelineResults> };
  multi(): { set(k: string, v: string): unknown; exec(): PipelineResults | Promise<PipelineResults> };
}

async function setWaitPipeline(client: ConnectorClient, key: string, value: string): Promise<PipelineResults> {
  const batch = (client as unknown as BatchClient).pipeline();
  batch.set(key, value);
  batch.wait(0, 0);
  return await batch.exec();
}

async function multiSet(client: ConnectorClient, key: string, value: string): Promise<PipelineResults> {
  const batch = (client as unknown as BatchClient).multi();
  batch.set(key, value);
  return await batch.exec();
}

/** Moves an empty `slot` from its master to `target` the way redis-cli reshards: IMPORTING, MIGRATING, then NODE on every master. */
async function moveSlot(outputs: StackOutputs, slot: number, from: ClusterNodeInfo, to: ClusterNodeInfo, masters: ClusterNodeInfo[]): Promise<void> {
  const at = (node: ClusterNodeInfo, ...args: string[]): Promise<unknown> =>
    withNode({ host: "127.0.0.1", port: node.port }, outputs.password, (r) => r.call("CLUSTER", "SETSLOT", String(slot), ...args));
  await at(to, "IMPORTING", from.id);
  await at(from, "MIGRATING", to.id);
  for (const master of [to, from, ...masters.filter((m) => m.id !== to.id && m.id !== from.id)]) await at(master, "NODE", to.id);
}

const FORMS: Mode[] = [
  { topology: "cluster", form: "async" },
  { topology: "cluster", form: "sync" },
];

describe("cluster clients follow a MOVED reply inside a pipeline or MULTI at once", function () {
  this.timeout(60_000);
  const stack = useLocalStack();

  for (const mode of FORMS) {
    it(`${mode.form}: after a slot moves, the next [SET, WAIT] pipeline and MULTI reach the new owner`, async function () {
      const outputs = stack().outputs;
      const seed = outputs.cluster.seeds[0];
      const client = await openClient(modeConfig(mode, outputs, { commandTimeoutMs: 2000 }));
      try {
        const key = `moved:${mode.form}:${Date.now()}`;
        // Warm the client's slot map for the key's slot.
        expect((await setWaitPipeline(client, key, "before"))?.[0][0]).to.equal(null);

        const view = await withNode(seed, outputs.password, async (r) => parseClusterNodes(String(await r.call("CLUSTER", "NODES"))));
        const slot = Number(await withNode(seed, outputs.password, (r) => r.call("CLUSTER", "KEYSLOT", key)));
        const masters = view.filter((n) => n.role === "master" && n.slots.length > 0);
        const owner = masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b)) as ClusterNodeInfo;
        const target = masters.find((m) => m.id !== owner.id) as ClusterNodeInfo;
        await withNode({ host: "127.0.0.1", port: owner.port }, outputs.password, (r) => r.del(key));
        await moveSlot(outputs, slot, owner, target, masters);

        // The first pipeline meets the stale map: its SET gets MOVED while its WAIT succeeds.
        const first = await setWaitPipeline(client, key, "first");
        expect(first?.[0][0]?.message ?? "", "the first pipeline's SET").to.match(/^MOVED \d+ /);
        expect(first?.[1][0], "the first pipeline's WAIT").to.equal(null);

        // From that MOVED on, both batch shapes go to the new owner (well before ioredis's 5 s slot refresh).
        const second = await setWaitPipeline(client, key, "second");
        expect(second?.[0], "the next [SET, WAIT] pipeline's SET").to.deep.equal([null, "OK"]);
        const multi = await multiSet(client, key, "third");
        expect(multi, "the next MULTI").to.deep.equal([[null, "OK"]]);
        const onTarget = await withNode({ host: "127.0.0.1", port: target.port }, outputs.password, (r) => r.get(key));
        expect(onTarget, "the value, read on the new owner").to.equal("third");
      } finally {
        closeClient(client);
      }
    });
  }
});
