import { expect } from "chai";
import {
  planPlacement,
  planTopology,
  SettingError,
  validateStackSettings,
  type NodePlan,
  type StackSettings,
  type TopologyPlan,
} from "@redis-on-docker/topology";

const PASSWORD = "placement-pw-2291";
const THREE_HOSTS = [
  { name: "host-a", address: "10.231.0.11" },
  { name: "host-b", address: "10.231.0.12" },
  { name: "host-c", address: "10.231.0.13", bindAddress: "0.0.0.0" },
];

function plan(raw: Record<string, unknown>): TopologyPlan {
  return planTopology(validateStackSettings({ password: PASSWORD, ...raw }, "test settings"));
}

function directive(node: NodePlan, name: string): string[] {
  return node.directives.filter(([n]) => n === name).map(([, v]) => v);
}

/** Every (master, replica) pair that the plan puts on one host: must be none. */
function sharedHostPairs(p: TopologyPlan): string[] {
  const byName = new Map(p.clusterNodes.map((n) => [n.name, n]));
  return p.clusterNodes
    .filter((n) => n.replicaOf !== undefined)
    .filter((n) => byName.get(n.replicaOf as string)?.host === n.host)
    .map((n) => `${n.replicaOf} and ${n.name} on ${n.host}`);
}

describe("planTopology across hosts", () => {
  it("keeps a single host (or none) exactly today's plan", () => {
    const today = plan({});
    expect(plan({ hosts: [] })).to.deep.equal(today);
    expect(plan({ hosts: [{ name: "only", address: "10.231.0.11" }] })).to.deep.equal(today);
    expect(today.hosts).to.equal(undefined);
    for (const node of today.clusterNodes) expect(directive(node, "cluster-announce-ip")).to.deep.equal([]);
  });

  it("places no master on a host with any of its replicas, and spreads the masters", () => {
    for (const [replicasPerMaster, clusterNodes, hostCount] of [[1, 6, 3], [1, 6, 2], [1, 8, 3], [2, 9, 3], [2, 12, 4], [1, 12, 5]]) {
      const hosts = Array.from({ length: hostCount }, (_, i) => ({ name: `h${i}`, address: `10.231.0.${11 + i}` }));
      const p = plan({ hosts, clusterNodes, replicasPerMaster });
      expect(sharedHostPairs(p), `${clusterNodes} nodes, ${replicasPerMaster} replicas, ${hostCount} hosts`).to.deep.equal([]);
      // Every replica has a planned master, every master its replicasPerMaster replicas.
      const masters = p.clusterNodes.filter((n) => n.replicaOf === undefined);
      expect(masters.length).to.equal(clusterNodes / (replicasPerMaster + 1));
      for (const m of masters) expect(p.clusterNodes.filter((n) => n.replicaOf === m.name)).to.have.length(replicasPerMaster);
      // Masters rotate over the hosts: no host holds more than its share.
      const perHost = new Map<string, number>();
      for (const m of masters) perHost.set(m.host as string, (perHost.get(m.host as string) ?? 0) + 1);
      expect(Math.max(...perHost.values())).to.be.at.most(Math.ceil(masters.length / hostCount));
      expect(p.hosts?.flatMap((h) => h.nodes).sort()).to.deep.equal([p.standalone.name, ...p.clusterNodes.map((n) => n.name)].sort());
    }
  });

  it("gives the bootstrap the planned pairs on the announced addresses", () => {
    const p = plan({ hosts: THREE_HOSTS });
    expect(p.bootstrap.groups).to.deep.equal([
      { master: 0, replicas: [3] },
      { master: 1, replicas: [4] },
      { master: 2, replicas: [5] },
    ]);
    expect(p.bootstrap.nodeHosts).to.deep.equal(["host-a", "host-b", "host-c", "host-b", "host-c", "host-a"]);
    expect(p.bootstrap.restoreSpread).to.equal(false);
    expect(p.bootstrap.nodes).to.deep.equal(p.outputs.cluster.seeds);
    for (const g of p.bootstrap.groups ?? []) {
      for (const r of g.replicas) expect(p.bootstrap.nodeHosts?.[r]).not.to.equal(p.bootstrap.nodeHosts?.[g.master]);
    }
  });

  it("announces each node's host address and published client and bus ports", () => {
    const p = plan({ hosts: THREE_HOSTS });
    const address = new Map(THREE_HOSTS.map((h) => [h.name, h.address]));
    for (const node of p.clusterNodes) {
      expect(node.hostBusPort).to.equal(node.hostPort + 10000);
      expect(directive(node, "cluster-announce-ip")).to.deep.equal([address.get(node.host as string)]);
      expect(directive(node, "cluster-announce-port")).to.deep.equal([String(node.hostPort)]);
      expect(directive(node, "cluster-announce-bus-port")).to.deep.equal([String(node.hostBusPort)]);
      // Published ports bind to the host's bindAddress, defaulting to its address.
      const host = THREE_HOSTS.find((h) => h.name === node.host);
      expect(node.hostBindAddress).to.equal(host?.bindAddress ?? host?.address);
    }
    expect(p.standalone.host).to.equal("host-a");
    expect(p.standalone.hostBindAddress).to.equal("10.231.0.11");
  });

  it("exports the seeds as clients reach them, with no natMap", () => {
    const p = plan({ hosts: THREE_HOSTS });
    expect(p.outputs.cluster.natMap).to.deep.equal({});
    expect(p.outputs.cluster.seeds).to.deep.equal(
      p.clusterNodes.map((n) => ({ host: THREE_HOSTS.find((h) => h.name === n.host)?.address, port: n.hostPort })),
    );
    expect(p.outputs.cluster.internalSeeds).to.deep.equal(p.outputs.cluster.seeds);
    expect(p.outputs.standalone).to.include({ host: "10.231.0.11", port: 6380 });
  });

  it("says at plan time when the hosts cannot keep masters apart from their replicas", () => {
    const twoHosts = THREE_HOSTS.slice(0, 2);
    expect(() => plan({ hosts: twoHosts, clusterNodes: 9, replicasPerMaster: 2 }))
      .to.throw(SettingError, /redis-on-docker:hosts in test settings: 2 hosts cannot keep each master apart from its 2 replica\(s\)/)
      .with.property("setting", "redis-on-docker:hosts");
    // The plan itself refuses too, for settings built without validation.
    const settings: StackSettings = { ...validateStackSettings({ password: PASSWORD, clusterNodes: 9, replicasPerMaster: 2 }), hosts: twoHosts };
    expect(() => planTopology(settings)).to.throw(SettingError, /2 host\(s\) cannot keep each master apart/);
    expect(() => planPlacement(6, 1, 1)).to.throw(SettingError);
  });

  it("refuses unusable hosts, naming the setting", () => {
    const bad: Array<[unknown, RegExp]> = [
      [[{ name: "a", address: "host-a.example" }, { name: "b", address: "10.0.0.2" }], /entry 1 \(a\): address must be an IP address/],
      [[{ name: "a", address: "10.0.0.1" }, { name: "a", address: "10.0.0.2" }], /entry 2: name "a" is used twice/],
      [[{ name: "a", address: "10.0.0.1" }, { name: "b", address: "10.0.0.1" }], /address 10.0.0.1 is used by another host/],
      [[{ name: "a", address: "10.0.0.1", port: 1 }], /unknown field "port"/],
      [[{ name: "a", address: "10.0.0.1", bindAddress: "any" }], /bindAddress must be an IP address/],
      ["not json", /the text is not JSON/],
      [{ name: "a" }, /must be a list/],
    ];
    for (const [hosts, message] of bad) {
      expect(() => validateStackSettings({ password: PASSWORD, hosts }, "test settings"))
        .to.throw(SettingError, message)
        .with.property("setting", "redis-on-docker:hosts");
    }
    expect(() => validateStackSettings({ allowNoPassword: true, hosts: THREE_HOSTS }, "test settings"))
      .to.throw(SettingError, /required with 3 hosts/)
      .with.property("setting", "redis-on-docker:password");
    // Pulumi config hands lists over as JSON text.
    expect(validateStackSettings({ password: PASSWORD, hosts: JSON.stringify(THREE_HOSTS) }).hosts).to.deep.equal(THREE_HOSTS);
  });

  it("writes min-replicas-to-write / -max-lag only when set", () => {
    for (const node of plan({}).clusterNodes) expect(directive(node, "min-replicas-to-write")).to.deep.equal([]);
    const p = plan({ minReplicasToWrite: 1, minReplicasMaxLagSec: 2 });
    for (const node of p.clusterNodes) {
      expect(directive(node, "min-replicas-to-write")).to.deep.equal(["1"]);
      expect(directive(node, "min-replicas-max-lag")).to.deep.equal(["2"]);
    }
    expect(directive(p.standalone, "min-replicas-to-write")).to.deep.equal([]);
    expect(() => validateStackSettings({ password: PASSWORD, minReplicasToWrite: 2 }, "test settings"))
      .to.throw(SettingError, /redis-on-docker:minReplicasToWrite in test settings: 2 is more than the 1 replica/);
  });
});
