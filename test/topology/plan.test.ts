import { expect } from "chai";
import {
  BOOTSTRAP_PASSWORD_PATH,
  BOOTSTRAP_SCRIPT_PATH,
  CONTAINER_CONFIG_PATH,
  planTopology,
  redisVersionOf,
  renderRedisConf,
  type NodePlan,
} from "@redis-on-docker/topology";
import { quoteConfigArgument } from "@redis-on-docker/topology";
import { SettingError, validateStackSettings, type StackSettings } from "@redis-on-docker/topology";
import { startRedisFromConf, type RunningRedis } from "./redisConfServer";

const PASSWORD = "plan-pw-4471";

function settings(overrides: Partial<StackSettings> = {}): StackSettings {
  return { ...validateStackSettings({ password: PASSWORD }), ...overrides };
}

function directive(node: NodePlan, name: string): string[] {
  return node.directives.filter(([n]) => n === name).map(([, v]) => v);
}

describe("planTopology", () => {
  const plan = planTopology(settings());

  it("plans the network with the first host address as gateway", () => {
    expect(plan.network).to.deep.equal({ name: "redis-net", subnet: "10.213.0.0/24", gateway: "10.213.0.1", ipRange: "10.213.0.128/25" });
    expect(plan.image).to.equal("redis:5.0.4");
  });

  it("gives the standalone base+10 and node i base+11+i, with consecutive host ports", () => {
    expect(plan.standalone).to.include({ name: "redis-standalone", role: "standalone", ip: "10.213.0.10", port: 6379, hostPort: 6380, hostBindAddress: "127.0.0.1" });
    expect(plan.clusterNodes.map((n) => [n.name, n.ip, n.hostPort])).to.deep.equal([
      ["redis-node-0", "10.213.0.11", 6381],
      ["redis-node-1", "10.213.0.12", 6382],
      ["redis-node-2", "10.213.0.13", 6383],
      ["redis-node-3", "10.213.0.14", 6384],
      ["redis-node-4", "10.213.0.15", 6385],
      ["redis-node-5", "10.213.0.16", 6386],
    ]);
    for (const node of plan.clusterNodes) expect(node).to.include({ role: "cluster", port: 6379, hostBindAddress: "127.0.0.1" });
  });

  it("runs redis-server on the uploaded config, with a password-free healthcheck", () => {
    for (const node of [plan.standalone, ...plan.clusterNodes]) {
      expect(node.command).to.deep.equal(["redis-server", CONTAINER_CONFIG_PATH]);
      expect(node.healthcheck[0]).to.equal("CMD-SHELL");
      expect(node.healthcheck[1]).to.match(/redis-cli -p 6379 ping/).and.match(/PONG\|NOAUTH/);
      expect(JSON.stringify(node)).not.to.contain(PASSWORD);
    }
  });

  it("enables cluster mode on cluster nodes only", () => {
    for (const node of plan.clusterNodes) {
      expect(directive(node, "cluster-enabled")).to.deep.equal(["yes"]);
      expect(directive(node, "cluster-config-file")).to.deep.equal(["nodes.conf"]);
      expect(directive(node, "cluster-node-timeout")).to.deep.equal(["5000"]);
    }
    expect(directive(plan.standalone, "cluster-enabled")).to.deep.equal([]);
    for (const node of [plan.standalone, ...plan.clusterNodes]) {
      expect(directive(node, "port")).to.deep.equal(["6379"]);
      expect(directive(node, "bind")).to.deep.equal(["0.0.0.0"]);
      expect(directive(node, "protected-mode")).to.deep.equal(["no"]);
      expect(directive(node, "dir")).to.deep.equal(["/data"]);
    }
  });

  it("maps each persistence choice to save/appendonly", () => {
    const none = planTopology(settings({ persistence: "none" })).clusterNodes[0];
    expect(directive(none, "save")).to.deep.equal([""]);
    expect(directive(none, "appendonly")).to.deep.equal(["no"]);
    const rdb = planTopology(settings({ persistence: "rdb" })).clusterNodes[0];
    expect(directive(rdb, "save")).to.deep.equal(["900 1", "300 10", "60 10000"]);
    expect(directive(rdb, "appendonly")).to.deep.equal(["no"]);
    const aof = planTopology(settings({ persistence: "aof" })).standalone;
    expect(directive(aof, "appendonly")).to.deep.equal(["yes"]);
  });

  it("plans the bootstrap job against the nodes' internal addresses", () => {
    expect(plan.bootstrap.name).to.equal("redis-cluster-bootstrap");
    expect(plan.bootstrap.command).to.deep.equal(["sh", BOOTSTRAP_SCRIPT_PATH]);
    expect(plan.bootstrap.nodes).to.deep.equal(plan.clusterNodes.map((n) => ({ host: n.ip, port: 6379 })));
    expect(plan.bootstrap.replicasPerMaster).to.equal(1);
    expect(plan.bootstrap.timeoutSec).to.equal(60);
    expect(plan.bootstrap.script).to.be.a("string").and.not.equal("");
    expect(plan.bootstrap.script).not.to.contain(PASSWORD);
    expect(plan.bootstrap.script).to.contain(BOOTSTRAP_PASSWORD_PATH);
  });

  it("plans the outputs document, without the password", () => {
    expect(plan.outputs).to.deep.equal({
      schemaVersion: 1,
      redisImage: "redis:5.0.4",
      redisVersion: "5.0.4",
      passwordRequired: true,
      standalone: { host: "127.0.0.1", port: 6380, internalHost: "10.213.0.10", internalPort: 6379 },
      cluster: {
        seeds: [6381, 6382, 6383, 6384, 6385, 6386].map((port) => ({ host: "127.0.0.1", port })),
        internalSeeds: [11, 12, 13, 14, 15, 16].map((i) => ({ host: `10.213.0.${i}`, port: 6379 })),
        natMap: Object.fromEntries([11, 12, 13, 14, 15, 16].map((i) => [`10.213.0.${i}:6379`, { host: "127.0.0.1", port: 6380 + i - 10 }])),
        replicasPerMaster: 1,
      },
    });
    expect(JSON.stringify(plan)).not.to.contain(PASSWORD);
  });

  it("follows namePrefix, subnet, ports, bind address and replica count", () => {
    const custom = planTopology(
      validateStackSettings({
        namePrefix: "e2e7",
        subnet: "10.99.4.0/26",
        hostPortBase: 41000,
        hostBindAddress: "0.0.0.0",
        clusterNodes: 9,
        replicasPerMaster: 2,
        nodeTimeoutMs: 1500,
        allowNoPassword: true,
        image: "localhost:5000/redis-debian:7.0.15",
      }),
    );
    expect(custom.network).to.deep.equal({ name: "e2e7-net", subnet: "10.99.4.0/26", gateway: "10.99.4.1", ipRange: "10.99.4.32/27" });
    expect(custom.standalone).to.include({ name: "e2e7-standalone", ip: "10.99.4.10", hostPort: 41000, hostBindAddress: "0.0.0.0" });
    expect(custom.clusterNodes).to.have.length(9);
    expect(custom.clusterNodes[8]).to.include({ name: "e2e7-node-8", ip: "10.99.4.19", hostPort: 41009 });
    expect(directive(custom.clusterNodes[0], "cluster-node-timeout")).to.deep.equal(["1500"]);
    expect(custom.bootstrap.replicasPerMaster).to.equal(2);
    // A wildcard bind is reached from the host via loopback.
    expect(custom.outputs.standalone.host).to.equal("127.0.0.1");
    expect(custom.outputs.cluster.natMap["10.99.4.19:6379"]).to.deep.equal({ host: "127.0.0.1", port: 41009 });
    expect(custom.outputs.passwordRequired).to.equal(false);
    expect(custom.outputs.redisVersion).to.equal("7.0.15");
  });

  it("rejects settings that bypassed validation and do not fit the subnet or port range", () => {
    expect(() => planTopology(settings({ subnet: "10.0.0.0/28" })))
      .to.throw(SettingError, /redis-on-docker:subnet/);
    expect(() => planTopology(settings({ hostPortBase: 65533 })))
      .to.throw(SettingError, /redis-on-docker:hostPortBase/);
  });

  it("reads the Redis version from the image tag", () => {
    expect(redisVersionOf("redis:5.0.4")).to.equal("5.0.4");
    expect(redisVersionOf("redis:5.0.4-alpine")).to.equal("5.0.4");
    expect(redisVersionOf("registry:5000/redis:6.2")).to.equal("6.2");
    expect(redisVersionOf("registry:5000/redis")).to.equal("unknown");
    expect(redisVersionOf("redis:latest")).to.equal("unknown");
    expect(redisVersionOf(`redis@sha256:${"b".repeat(64)}`)).to.equal("unknown");
  });
});

describe("renderRedisConf", () => {
  const plan = planTopology(settings());

  it("writes the directives, and requirepass + masterauth only with a password", () => {
    const withPassword = renderRedisConf(plan.clusterNodes[0], PASSWORD);
    expect(withPassword).to.contain("\ncluster-enabled yes\n");
    expect(withPassword).to.contain('\nsave ""\n');
    expect(withPassword).to.contain(`\nrequirepass "${PASSWORD}"\n`);
    expect(withPassword).to.contain(`\nmasterauth "${PASSWORD}"\n`);
    const without = renderRedisConf(plan.clusterNodes[0]);
    expect(without).not.to.match(/requirepass|masterauth/);
  });

  it("applies overrides in place and appends new directives", () => {
    const text = renderRedisConf(plan.standalone, undefined, { port: "12345", dir: "/tmp/a dir", logfile: "" });
    expect(text).to.contain("\nport 12345\n");
    expect(text).not.to.contain("port 6379");
    expect(text).to.contain('\ndir "/tmp/a dir"\n');
    expect(text).to.contain('\nlogfile ""\n');
  });

  it("quotes the way sdssplitargs reads", () => {
    expect(quoteConfigArgument("plain")).to.equal("plain");
    expect(quoteConfigArgument("plain", true)).to.equal('"plain"');
    expect(quoteConfigArgument('a "b" \\c')).to.equal('"a \\"b\\" \\\\c"');
    expect(quoteConfigArgument("tab\there")).to.equal('"tab\\x09here"');
    expect(quoteConfigArgument("é")).to.equal('"\\xc3\\xa9"');
  });

  // Each password must survive redis.conf -> redis-server -> AUTH, byte for byte.
  const passwords = [
    "simple",
    "with spaces and 'single' quotes",
    'double "quotes" and \\backslashes\\ \\x41',
    "unicode ünïcødé 密码 🔑",
    "tab\tand\x01control\x7fbytes",
    "#hash;semicolon$dollar`backtick`",
  ];
  const renderedFiles: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (renderedFiles.length > 0) await (renderedFiles.pop() as () => Promise<void>)();
  });

  for (const password of passwords) {
    it(`round-trips ${JSON.stringify(password)} through a real redis-server`, async function () {
      this.timeout(20000);
      const server: RunningRedis = await startRedisFromConf((dir, port) =>
        renderRedisConf(plan.clusterNodes[0], password, { port: String(port), bind: "127.0.0.1", dir }),
      );
      renderedFiles.push(() => server.stop());
      expect(await server.command(["PING"])).to.match(/^-NOAUTH/);
      expect(await server.command(["AUTH", `${password}x`])).to.match(/^-(ERR invalid password|WRONGPASS)/);
      const [auth, masterauth, clusterEnabled] = await server.session([
        ["AUTH", password],
        ["CONFIG", "GET", "masterauth"],
        // INFO, not CONFIG GET: Redis 5 does not return cluster-enabled to CONFIG GET.
        ["INFO", "cluster"],
      ]);
      expect(auth).to.equal("+OK\r\n");
      // masterauth must hold the same bytes, or replicas could not sync to their masters.
      expect(masterauth).to.equal(`*2\r\n$10\r\nmasterauth\r\n$${Buffer.byteLength(password)}\r\n${password}\r\n`);
      expect(clusterEnabled).to.contain("cluster_enabled:1\r\n");
    });
  }
});
