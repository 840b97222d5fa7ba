/**
 * The local runner's multi-host realisation on simulated hosts (network namespaces): three
 * hosts, each master on another host than its replica as the plan says; one host's processes
 * killed: every slot is served again within node timeout + promotion + 1 s; the host returns,
 * its nodes rejoin as replicas, every node agrees, and the placement check restores the spread.
 * Needs root and iproute2 (CI runs as root); elsewhere the skip says why.
 */
import { expect } from "chai";
import { startLocalStack, type LocalStack } from "@redis-on-docker/local";
import { clusterNodes, waitFor } from "../reliability/support/clusterProbe";
import { clusterDisagreements } from "../support/clusterAgreement";
import { SimulatedHosts, simulatedHostsUnavailable } from "../support/simulatedHosts";

const PASSWORD = "multi-host-pw-5521";
const NODE_TIMEOUT_MS = 1000;
/** Promotion after the FAIL verdict: election delay (0.5-1 s + rank) and the vote round. */
const PROMOTION_MS = 2000;

describe("local runner across simulated hosts", function () {
  this.timeout(90_000);
  let hosts: SimulatedHosts | undefined;
  let stack: LocalStack | undefined;

  before(function () {
    const unavailable = simulatedHostsUnavailable();
    if (unavailable !== undefined) {
      console.log(`      skipped: ${unavailable}`);
      this.skip();
    }
    hosts = SimulatedHosts.create(["host-a", "host-b", "host-c"]);
  });

  after(async function () {
    await stack?.stop();
    hosts?.destroy();
    expect(hosts?.leftovers() ?? []).to.deep.equal([]);
  });

  it("forms the planned pairs across hosts, survives the loss of a host, and restores the spread", async function () {
    stack = await startLocalStack({ password: PASSWORD, nodeTimeoutMs: NODE_TIMEOUT_MS, hosts: hosts!.hosts });
    const live = stack;
    const seeds = live.outputs.cluster.seeds;
    expect(live.outputs.cluster.natMap).to.deep.equal({});
    expect(seeds.map((s) => s.host).sort()).to.deep.equal(hosts!.hosts.flatMap((h) => [h.address, h.address]).sort());

    // The cluster is as planned: each replica follows its planned master, on another host.
    const byPort = new Map(live.plan.clusterNodes.map((n) => [n.hostPort, n]));
    const view = await clusterNodes(seeds[0], PASSWORD);
    const portOfId = new Map(view.map((n) => [n.id, n.port]));
    for (const node of view) {
      const planned = byPort.get(node.port);
      expect(planned, `node on port ${node.port}`).to.not.equal(undefined);
      if (planned?.replicaOf === undefined) expect(node.role, planned?.name).to.equal("master");
      else expect(byPort.get(portOfId.get(node.masterId ?? "") ?? -1)?.name, `${planned.name}'s master`).to.equal(planned.replicaOf);
    }
    expect(await live.placement()).to.include({ asPlanned: true });

    // --- lose host-a: every process on it killed ---
    const lost = live.nodes.filter((n) => n.hostName === "host-a" && n.role === "cluster");
    const survivor = live.nodes.find((n) => n.hostName === "host-b" && n.role === "cluster")!;
    const killedAt = Date.now();
    await Promise.all(lost.map((n) => live.killNode(n.name, "SIGKILL")));
    const servedAt = await waitFor("every slot served again (cluster_state:ok on a surviving node)", 20_000, async () => {
      const nodes = await clusterNodes({ host: survivor.host, port: survivor.port }, PASSWORD);
      // Served by a live node: the lost host's masters still list their slots until the failover.
      const lostPorts = new Set(lost.map((n) => n.port));
      const serving = nodes.filter((n) => n.role === "master" && n.slots.length > 0 && !lostPorts.has(n.port));
      const slots = serving.reduce((sum, n) => sum + n.slots.reduce((s, r) => s + (r[1] - r[0] + 1), 0), 0);
      return slots === 16384 ? Date.now() : undefined;
    }, 20);
    const serveMs = servedAt - killedAt;
    console.log(`      host loss (processes killed): every slot served again after ${serveMs} ms`);
    expect(serveMs, "kill -> every slot served (ms)").to.be.at.most(NODE_TIMEOUT_MS + PROMOTION_MS + 1000);

    // --- host-a returns: its nodes rejoin as replicas, every node agrees ---
    for (const n of lost) await live.restartNode(n.name);
    await waitFor("every node agrees again", 20_000, async () =>
      (await clusterDisagreements(seeds, PASSWORD, 1)).length === 0 ? true : undefined,
    );
    const after = await clusterNodes(seeds[0], PASSWORD);
    for (const n of lost) expect(after.find((x) => x.port === n.port)?.role, `${n.name} after its return`).to.equal("replica");

    // The spread is not the plan's any more (host-a serves no master): reported, then restored.
    const report = await live.placement();
    expect(report.asPlanned).to.equal(false);
    expect(report.lines.join("\n")).to.match(/planned master .* is a replica now/);
    const restored = await live.placement({ restore: true });
    expect(restored.asPlanned, restored.lines.join("\n")).to.equal(true);
    const final = await clusterNodes(seeds[0], PASSWORD);
    for (const n of lost.filter((x) => byPort.get(x.port)?.replicaOf === undefined)) {
      expect(final.find((x) => x.port === n.port)?.role, `${n.name} restored as master`).to.equal("master");
    }
  });
});

/**
 * Isolation: host-a is partitioned from the other hosts while its processes live and a client
 * (in the root namespace) still reaches it. Counts the writes its master acknowledges after the
 * partition, until the failover on the other side: without min-replicas-to-write they are lost
 * when it rejoins as a replica; with min-replicas-to-write 1 (max lag 1 s) it stops accepting.
 */
describe("isolated master across simulated hosts: writes accepted after the partition", function () {
  this.timeout(90_000);
  /** Longer than min-replicas-max-lag (1 s), so the two windows differ: the node timeout vs the max lag. */
  const ISOLATION_NODE_TIMEOUT_MS = 3000;
  const figures: Record<string, number> = {};

  for (const minReplicasToWrite of [0, 1]) {
    it(`min-replicas-to-write ${minReplicasToWrite}`, async function () {
      const unavailable = simulatedHostsUnavailable();
      if (unavailable !== undefined) {
        console.log(`      skipped: ${unavailable}`);
        this.skip();
      }
      const hosts = SimulatedHosts.create(["host-a", "host-b", "host-c"]);
      let stack: LocalStack | undefined;
      try {
        stack = await startLocalStack({
          password: PASSWORD,
          nodeTimeoutMs: ISOLATION_NODE_TIMEOUT_MS,
          hosts: hosts.hosts,
          minReplicasToWrite,
          minReplicasMaxLagSec: 1,
        });
        const master = stack.nodes.find((n) => n.hostName === "host-a" && n.role === "cluster" && stack!.plan.clusterNodes.find((p) => p.name === n.name)?.replicaOf === undefined)!;
        const { default: Redis } = await import("ioredis");
        const direct = new Redis({ host: master.host, port: master.port, password: PASSWORD, commandTimeout: 500, maxRetriesPerRequest: 0, connectTimeout: 1000 });
        direct.on("error", () => undefined);
        try {
          await direct.ping();
          // A key in this master's first slot range.
          const mine = ((await direct.call("CLUSTER", "NODES")) as string).split("\n").find((l) => l.includes("myself")) ?? "";
          const [first, last] = (mine.trim().split(" ")[8] ?? "").split("-").map(Number);
          const key = await keyInSlots(direct, first, last ?? first);
          hosts.partition("host-a");
          const cutAt = Date.now();
          let accepted = 0;
          let refused = 0;
          let lastAcceptedMs = 0;
          while (Date.now() - cutAt < ISOLATION_NODE_TIMEOUT_MS + 2000) {
            try {
              await direct.set(key, String(Date.now()));
              accepted++;
              lastAcceptedMs = Date.now() - cutAt;
            } catch {
              refused++;
            }
            await new Promise((r) => setTimeout(r, 10));
          }
          figures[`minReplicasToWrite ${minReplicasToWrite}`] = lastAcceptedMs;
          console.log(
            `      isolated master (node timeout ${ISOLATION_NODE_TIMEOUT_MS} ms), min-replicas-to-write ${minReplicasToWrite}: ` +
              `${accepted} writes accepted after the partition, the last ${lastAcceptedMs} ms after it; ${refused} refused`,
          );
          if (minReplicasToWrite === 0) {
            // Accepted until the master itself sees the majority gone (about the node timeout): lost at rejoin.
            expect(lastAcceptedMs, "ms the isolated master kept accepting writes").to.be.greaterThan(ISOLATION_NODE_TIMEOUT_MS - 1000);
          } else {
            // Only until the replica's last ack is older than min-replicas-max-lag (1 s; Redis counts whole seconds).
            expect(lastAcceptedMs, "ms the isolated master kept accepting writes with min-replicas-to-write 1").to.be.at.most(2500);
          }
        } finally {
          direct.disconnect();
          hosts.heal("host-a");
        }
      } finally {
        await stack?.stop();
        hosts.destroy();
      }
    });
  }
});

/** A key that hashes into the slots `first..last` (a range of thousands: a few tries). */
async function keyInSlots(redis: { call(...args: string[]): Promise<unknown> }, first: number, last: number): Promise<string> {
  for (let i = 0; i < 100_000; i++) {
    const slot = (await redis.call("CLUSTER", "KEYSLOT", `iso${i}`)) as number;
    if (slot >= first && slot <= last) return `iso${i}`;
  }
  throw new Error(`no key found for slots ${first}-${last}`);
}
