import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { expect } from "chai";
import type { StackOutputs } from "@redis-on-docker/connector";
import { defineRedisStack, readStackSettings, type RedisStackExports } from "../../infra/program";
import {
  BOOTSTRAP_PASSWORD_PATH,
  BOOTSTRAP_SCRIPT_PATH,
  CONTAINER_CONFIG_PATH,
  planTopology,
} from "@redis-on-docker/topology";
import { SettingError, parseIpv4Cidr, validateStackSettings, type StackSettings } from "@redis-on-docker/topology";
import { readStackConfigFile } from "../e2e/replay/ciStackConfig";
import {
  isSecretEnvelope,
  nonSecretStrings,
  mockImageId,
  plain,
  runMocked,
  valueOf,
  type ExtraState,
  type MockedRun,
  type RegisteredResource,
} from "../support/pulumiMocks";

const PASSWORD = "prog pw \"7731\" ünï";
const CONTAINER = "docker:index/container:Container";
const NETWORK = "docker:index/network:Network";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const VOLUME = "docker:index/volume:Volume";
const ROOT = path.resolve(__dirname, "../..");

/** The Docker provider reports the job's exit code and (with `logs`) its output; a real run of the job gives 0. */
function bootstrapExits(exitCode: number, containerLogs = "cluster ready\n"): ExtraState {
  return (type, name) => (type === CONTAINER && name.endsWith("-cluster-bootstrap") ? { exitCode, containerLogs } : {});
}

function stackFor(raw: Record<string, unknown>, extraState: ExtraState = bootstrapExits(0)): Promise<MockedRun<RedisStackExports>> {
  const settings: StackSettings = validateStackSettings(raw);
  return runMocked(() => defineRedisStack(settings), { extraState });
}

function only(resources: RegisteredResource[], type: string, name?: string): RegisteredResource {
  const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  expect(found, `${type} ${name ?? ""}`).to.have.length(1);
  return found[0];
}

function containers(resources: RegisteredResource[]): RegisteredResource[] {
  return resources.filter((r) => r.type === CONTAINER);
}

interface Upload {
  file: string;
  content: string;
  permissions?: string;
}
function uploadsOf(resource: RegisteredResource): Upload[] {
  return plain(resource.inputs.uploads) as Upload[];
}

async function exportedDocument(exports: RedisStackExports): Promise<StackOutputs> {
  const entries = await Promise.all(Object.entries(exports).map(async ([k, v]) => [k, await valueOf(v as pulumi.Output<unknown>)]));
  return Object.fromEntries(entries) as StackOutputs;
}

describe("Pulumi program (mocks)", function () {
  this.timeout(30000);

  describe("default stack with a password", () => {
    let run: MockedRun<RedisStackExports>;
    before(async () => {
      run = await stackFor({ password: PASSWORD });
    });

    it("declares one network, one kept image, standalone + 6 nodes + the bootstrap job, in typed components", () => {
      const count = (type: string) => run.resources.filter((r) => r.type === type).length;
      expect(count(NETWORK)).to.equal(1);
      expect(count(IMAGE)).to.equal(1);
      expect(containers(run.resources).map((c) => c.name).sort()).to.deep.equal(
        ["redis-cluster-bootstrap", "redis-node-0", "redis-node-1", "redis-node-2", "redis-node-3", "redis-node-4", "redis-node-5", "redis-standalone"],
      );
      expect(count("redis-on-docker:index:RedisNetwork")).to.equal(1);
      expect(count("redis-on-docker:index:RedisServer")).to.equal(7);
      expect(count("redis-on-docker:index:RedisClusterNodes")).to.equal(1);
      expect(count("redis-on-docker:index:RedisClusterBootstrap")).to.equal(1);
      expect(count("docker:index/volume:Volume")).to.equal(7);
      // The stack is one RedisOnDocker component (@redis-on-docker/pulumi) holding all of the above.
      expect(count("redis-on-docker:index:RedisOnDocker")).to.equal(1);
      expect(run.resources).to.have.length(28);
      for (const c of containers(run.resources)) {
        expect(c.inputs.name, "Docker name = resource name").to.equal(c.name);
        expect(c.parentUrn, `${c.name} sits in a component`).to.match(/redis-on-docker:index:/);
      }
    });

    it("pulls redis:5.0.4 once, keeps it locally, and runs every container from it", () => {
      const image = only(run.resources, IMAGE);
      expect(image.inputs).to.include({ name: "redis:5.0.4", keepLocally: true });
      for (const c of containers(run.resources)) expect(c.inputs.image, c.name).to.equal(mockImageId("redis:5.0.4"));
    });

    it("creates the network with the planned subnet and gateway, and attaches every container", () => {
      const network = only(run.resources, NETWORK);
      expect(network.inputs).to.deep.include({ name: "redis-net", driver: "bridge" });
      expect(network.inputs.ipamConfigs).to.deep.equal([{ subnet: "10.213.0.0/24", gateway: "10.213.0.1", ipRange: "10.213.0.128/25" }]);
      for (const c of containers(run.resources)) {
        const networks = c.inputs.networksAdvanced as Array<{ name: string }>;
        expect(networks, c.name).to.have.length(1);
        expect(networks[0].name, c.name).to.equal("redis-net");
      }
    });

    it("gives the standalone and each node its static IP, and publishes ports on 127.0.0.1 only", () => {
      const expected: Array<[string, string, number]> = [
        ["redis-standalone", "10.213.0.10", 6380],
        ...[0, 1, 2, 3, 4, 5].map((i): [string, string, number] => [`redis-node-${i}`, `10.213.0.${11 + i}`, 6381 + i]),
      ];
      for (const [name, ip, hostPort] of expected) {
        const c = only(run.resources, CONTAINER, name);
        expect((c.inputs.networksAdvanced as Array<{ ipv4Address?: string }>)[0].ipv4Address, name).to.equal(ip);
        expect(c.inputs.ports, name).to.deep.equal([{ internal: 6379, external: hostPort, ip: "127.0.0.1", protocol: "tcp" }]);
      }
      expect(only(run.resources, CONTAINER, "redis-cluster-bootstrap").inputs.ports ?? []).to.deep.equal([]);
    });

    it("runs redis-server on the uploaded redis.conf, with healthcheck and restart policy", () => {
      for (const c of containers(run.resources).filter((r) => r.name !== "redis-cluster-bootstrap")) {
        expect(c.inputs.command, c.name).to.deep.equal(["redis-server", CONTAINER_CONFIG_PATH]);
        expect(c.inputs.restart, c.name).to.equal("unless-stopped");
        const healthcheck = c.inputs.healthcheck as { tests: string[] };
        expect(healthcheck.tests[0]).to.equal("CMD-SHELL");
        expect(healthcheck.tests[1]).to.match(/redis-cli -p 6379 ping/);
        const [conf] = uploadsOf(c);
        expect(conf.file).to.equal(CONTAINER_CONFIG_PATH);
        const isNode = c.name.startsWith("redis-node-");
        expect(conf.content.includes("\ncluster-enabled yes\n"), c.name).to.equal(isNode);
        expect(conf.content, c.name).to.match(/\nport 6379\n/);
      }
    });

    it("puts requirepass and masterauth with the password in every node's redis.conf, as a secret", () => {
      const quoted = '"prog pw \\"7731\\" \\xc3\\xbcn\\xc3\\xaf"';
      for (const c of containers(run.resources).filter((r) => r.name !== "redis-cluster-bootstrap")) {
        expect(isSecretEnvelope(c.inputs.uploads), `${c.name} uploads are secret`).to.equal(true);
        const [conf] = uploadsOf(c);
        expect(conf.content, c.name).to.contain(`\nrequirepass ${quoted}\n`);
        expect(conf.content, c.name).to.contain(`\nmasterauth ${quoted}\n`);
      }
    });

    it("never puts the password in a command, env, label or any other non-secret input", () => {
      for (const r of run.resources) {
        for (const s of nonSecretStrings(r.inputs)) expect(s, `${r.type} ${r.name}`).not.to.contain("7731");
        expect(r.inputs.envs ?? [], r.name).to.deep.equal([]);
      }
    });

    it("runs the bootstrap job once: attached, logged, not restarted, not kept running, not auto-removed", () => {
      const job = only(run.resources, CONTAINER, "redis-cluster-bootstrap");
      expect(job.inputs.command).to.deep.equal(["sh", BOOTSTRAP_SCRIPT_PATH]);
      expect(job.inputs).to.include({ mustRun: false, attach: true, logs: true, restart: "no", rm: false });
      expect(job.inputs).not.to.have.property("wait");
      const uploads = uploadsOf(job);
      const script = uploads.find((u) => u.file === BOOTSTRAP_SCRIPT_PATH);
      const passwordFile = uploads.find((u) => u.file === BOOTSTRAP_PASSWORD_PATH);
      const plan = planTopology(validateStackSettings({ password: PASSWORD }));
      expect(script?.content).to.equal(plan.bootstrap.script);
      expect(script?.content).to.contain("--cluster create").and.contain("--cluster-replicas");
      for (let i = 0; i < 6; i++) expect(script?.content).to.contain(`10.213.0.${11 + i}:6379`);
      expect(passwordFile?.content).to.equal(PASSWORD);
      expect(passwordFile?.permissions).to.equal("0600");
      expect(isSecretEnvelope(job.inputs.uploads)).to.equal(true);
    });

    it("starts the bootstrap job only after all six node containers", () => {
      const job = only(run.resources, CONTAINER, "redis-cluster-bootstrap");
      const nodeUrns = containers(run.resources).filter((c) => c.name.startsWith("redis-node-")).map((c) => c.urn);
      expect(nodeUrns).to.have.length(6);
      expect(job.dependencies).to.include.members(nodeUrns);
      expect(job.dependencies).to.include(only(run.resources, NETWORK).urn);
      // The nodes themselves do not wait for each other.
      for (const c of containers(run.resources).filter((r) => r.name.startsWith("redis-node-"))) {
        expect(c.dependencies.filter((d) => nodeUrns.includes(d)), c.name).to.deep.equal([]);
      }
    });

    it("exports the outputs document, with the password as a secret", async () => {
      const exports = run.result;
      expect(Object.keys(exports).sort()).to.deep.equal(
        ["cluster", "password", "passwordRequired", "redisImage", "redisVersion", "schemaVersion", "standalone"],
      );
      expect(await pulumi.isSecret(exports.password)).to.equal(true);
      for (const key of ["cluster", "standalone", "redisImage", "passwordRequired"] as const) {
        expect(await pulumi.isSecret(exports[key] as pulumi.Output<unknown>), key).to.equal(false);
      }
      const document = await exportedDocument(exports);
      expect(document).to.deep.equal({
        ...planTopology(validateStackSettings({ password: PASSWORD })).outputs,
        password: PASSWORD,
      });
      expect(document.cluster.natMap["10.213.0.16:6379"]).to.deep.equal({ host: "127.0.0.1", port: 6386 });
      expect(document.standalone).to.deep.equal({ host: "127.0.0.1", port: 6380, internalHost: "10.213.0.10", internalPort: 6379 });
    });
  });

  it("fails the update when the bootstrap job exits non-zero, quoting its output, with a RunError (no stack trace shown)", async () => {
    // As a TTY writes it: CRLF line ends, and redis-cli's colour codes.
    const ttyLogs = "waiting for nodes\r\n\u001b[31;1mnode 10.213.0.13:6379 did not answer PING\u001b[0m\r\n";
    const run = await stackFor({ password: PASSWORD }, bootstrapExits(3, ttyLogs));
    let failure: unknown;
    try {
      await valueOf(run.result.cluster);
    } catch (error) {
      failure = error;
    }
    expect(failure, "the cluster export must reject").to.be.instanceOf(Error);
    const message = (failure as Error).message;
    expect(message).to.contain("redis-cluster-bootstrap exited with code 3");
    expect(message).to.contain("waiting for nodes\nnode 10.213.0.13:6379 did not answer PING\n");
    expect(message).not.to.match(/[\r\u001b]/);
    expect(message).to.contain("pulumi up --replace");
    // The Pulumi CLI prints a RunError's message alone; any other error comes with this program's stack.
    expect(pulumi.RunError.isInstance(failure)).to.equal(true);
    expect(message).not.to.contain("7731");
  });

  it("fails the update when the job reports no exit code at all", async () => {
    const run = await stackFor({ password: PASSWORD }, () => ({}));
    let failure: unknown;
    await valueOf(run.result.cluster).catch((e) => (failure = e));
    expect(String(failure)).to.contain("did not report an exit code");
  });

  it("follows namePrefix, subnet, host ports and bind address (as the Docker replay sets them)", async () => {
    const run = await stackFor({
      namePrefix: "e2e-a1",
      subnet: "10.123.8.0/26",
      hostPortBase: 42000,
      hostBindAddress: "0.0.0.0",
      image: "redis-debian:7.0.15",
      password: PASSWORD,
    });
    expect(only(run.resources, NETWORK).inputs).to.deep.include({
      name: "e2e-a1-net",
      ipamConfigs: [{ subnet: "10.123.8.0/26", gateway: "10.123.8.1", ipRange: "10.123.8.32/27" }],
    });
    const node5 = only(run.resources, CONTAINER, "e2e-a1-node-5");
    expect((node5.inputs.networksAdvanced as Array<{ name: string; ipv4Address: string }>)[0]).to.include({ name: "e2e-a1-net", ipv4Address: "10.123.8.16" });
    expect(node5.inputs.ports).to.deep.equal([{ internal: 6379, external: 42006, ip: "0.0.0.0", protocol: "tcp" }]);
    expect(only(run.resources, CONTAINER, "e2e-a1-standalone").inputs.image).to.equal(mockImageId("redis-debian:7.0.15"));
    const document = await exportedDocument(run.result);
    expect(document.standalone.host).to.equal("127.0.0.1");
    expect(document.cluster.seeds[0]).to.deep.equal({ host: "127.0.0.1", port: 42001 });
    expect(document.redisVersion).to.equal("7.0.15");
  });

  it("deploys without a password only when allowNoPassword is set", async () => {
    const run = await stackFor({ allowNoPassword: true });
    for (const c of containers(run.resources).filter((r) => r.name !== "redis-cluster-bootstrap")) {
      expect(uploadsOf(c)[0].content, c.name).not.to.match(/requirepass|masterauth/);
    }
    const job = only(run.resources, CONTAINER, "redis-cluster-bootstrap");
    // No password file at all: the provider rejects an upload with empty content.
    expect(uploadsOf(job).map((u) => u.file)).to.deep.equal([BOOTSTRAP_SCRIPT_PATH]);
    for (const u of uploadsOf(job)) expect(u.content, u.file).to.be.a("string").and.not.equal("");
    expect(await pulumi.isSecret(run.result.password)).to.equal(true);
    const document = await exportedDocument(run.result);
    expect(document.password).to.equal("");
    expect(document.passwordRequired).to.equal(false);
  });

  describe("Pulumi.dev.yaml: what a real `pulumi up` needs to work the first time and every time", () => {
    let run: MockedRun<RedisStackExports>;
    before(async () => {
      const config = readStackConfigFile(path.join(ROOT, "Pulumi.dev.yaml"));
      // The password is secure config, not in the file: `pulumi config set --secret` adds it.
      run = await runMocked(() => defineRedisStack(readStackSettings()), {
        config: { ...config, "redis-on-docker:password": PASSWORD },
        secretKeys: ["redis-on-docker:password"],
        stack: "dev",
        extraState: bootstrapExits(0),
      });
    });

    it("gives the one-shot bootstrap job a TTY, so its logged output carries no Docker frame headers", () => {
      const oneShots = containers(run.resources).filter((c) => c.inputs.attach === true);
      expect(oneShots.map((c) => c.name)).to.deep.equal(["redis-cluster-bootstrap"]);
      for (const job of oneShots) {
        // logs + attach: the provider keeps the log stream as it comes; only a TTY makes it raw.
        expect(job.inputs).to.include({ logs: true, tty: true });
      }
    });

    it("mounts a named volume of its own at /data in every redis-server container, kept across replacement", () => {
      const volumes = run.resources.filter((r) => r.type === VOLUME);
      const servers = containers(run.resources).filter((c) => c.inputs.attach !== true);
      expect(servers).to.have.length(7);
      const used = new Set<string>();
      for (const c of servers) {
        const mounts = plain(c.inputs.volumes) as Array<{ volumeName?: string; containerPath: string }>;
        expect(mounts, c.name).to.have.length(1);
        expect(mounts[0].containerPath).to.equal("/data");
        const volume = volumes.find((v) => v.inputs.name === mounts[0].volumeName);
        expect(volume, `${c.name}: a docker.Volume named ${String(mounts[0].volumeName)}`).to.not.equal(undefined);
        expect(c.dependencies, `${c.name} is created after its volume`).to.include(volume!.urn);
        // Destroy removes it (retainDataVolumes is not set in Pulumi.dev.yaml); a replacement of the container does not.
        expect(volume!.retainOnDelete).to.equal(false);
        used.add(String(mounts[0].volumeName));
      }
      expect(used.size, "one volume per node").to.equal(7);
      // A replacement stops each node with time to save its data (the provider's default kills at once).
      for (const c of servers) expect(c.inputs.destroyGraceSeconds, c.name).to.be.at.least(10);
      // The volume's inputs do not depend on the password, so changing it never replaces a volume.
      expect(JSON.stringify(volumes.map((v) => v.inputs))).not.to.contain("7731");
    });

    it("uses a subnet outside Docker's default address pools, with an ipRange that holds no static address", () => {
      const network = only(run.resources, NETWORK);
      const [ipam] = network.inputs.ipamConfigs as Array<{ subnet: string; gateway: string; ipRange: string }>;
      const subnet = parseIpv4Cidr(ipam.subnet)!;
      const range = parseIpv4Cidr(ipam.ipRange)!;
      const contains = (outer: { base: number; prefix: number }, address: number): boolean =>
        outer.prefix === 0 || address >>> (32 - outer.prefix) === outer.base >>> (32 - outer.prefix);
      const addr = (ip: string): number => parseIpv4Cidr(`${ip}/32`)!.base;
      const lastOf = (c: { base: number; prefix: number }): number => (c.base + 2 ** (32 - c.prefix) - 1) >>> 0;
      // Docker's default pools: 172.17.0.0/16 .. 172.31.0.0/16 and 192.168.0.0/16.
      const pools = [...Array.from({ length: 15 }, (_, i) => parseIpv4Cidr(`172.${17 + i}.0.0/16`)!), parseIpv4Cidr("192.168.0.0/16")!];
      for (const pool of pools) {
        const overlaps = contains(pool, subnet.base) || contains(subnet, pool.base);
        expect(overlaps, `${ipam.subnet} overlaps Docker's default pool ${pool.base >>> 24}.${(pool.base >>> 16) & 255}.0.0/16`).to.equal(false);
      }
      expect(contains(subnet, range.base) && contains(subnet, lastOf(range)), `ipRange ${ipam.ipRange} inside ${ipam.subnet}`).to.equal(true);
      const statics = [ipam.gateway, ...containers(run.resources).flatMap((c) =>
        (c.inputs.networksAdvanced as Array<{ ipv4Address?: string }>).map((n) => n.ipv4Address).filter((ip): ip is string => ip !== undefined))];
      expect(statics).to.have.length(8); // gateway, standalone, 6 nodes; the job takes a dynamic one
      for (const ip of statics) expect(contains(range, addr(ip)), `${ip} in ipRange ${ipam.ipRange}`).to.equal(false);
    });

    it("publishes no host port 7000 (macOS 12+ AirPlay Receiver)", () => {
      const published = containers(run.resources).flatMap((c) =>
        ((c.inputs.ports ?? []) as Array<{ external: number }>).map((p) => p.external));
      expect(published).to.have.length(7);
      expect(published).to.not.include(7000);
    });
  });

  describe("stack config", () => {
    const valid = {
      "redis-on-docker:image": "redis:5.0.4",
      "redis-on-docker:clusterNodes": "6",
      "redis-on-docker:replicasPerMaster": "1",
      "redis-on-docker:subnet": "172.28.0.0/24",
      "redis-on-docker:hostPortBase": "7000",
      "redis-on-docker:hostBindAddress": "127.0.0.1",
      "redis-on-docker:password": PASSWORD,
    };

    it("reads Pulumi.<stack>.yaml values (strings) and the secret password", async () => {
      const run = await runMocked(() => readStackSettings(), { config: valid, secretKeys: ["redis-on-docker:password"] });
      expect(run.result).to.deep.include({ image: "redis:5.0.4", clusterNodes: 6, hostPortBase: 7000, password: PASSWORD });
    });

    const rejections: Array<[string, Record<string, string>, string]> = [
      ["too few masters", { "redis-on-docker:clusterNodes": "4" }, "redis-on-docker:clusterNodes"],
      ["replicas leave too few masters", { "redis-on-docker:replicasPerMaster": "2" }, "redis-on-docker:clusterNodes"],
      ["subnet too small", { "redis-on-docker:subnet": "172.28.0.0/29" }, "redis-on-docker:subnet"],
      ["subnet not CIDR", { "redis-on-docker:subnet": "172.28.0.0" }, "redis-on-docker:subnet"],
      ["ports past 65535", { "redis-on-docker:hostPortBase": "65532" }, "redis-on-docker:hostPortBase"],
      ["port not a number", { "redis-on-docker:hostPortBase": "7k" }, "redis-on-docker:hostPortBase"],
      ["bind address not an IP", { "redis-on-docker:hostBindAddress": "my-host" }, "redis-on-docker:hostBindAddress"],
      ["bad image name", { "redis-on-docker:image": "Redis:5.0.4" }, "redis-on-docker:image"],
      ["password with a newline", { "redis-on-docker:password": `${PASSWORD}\n` }, "redis-on-docker:password"],
      ["no password", { "redis-on-docker:password": "" }, "redis-on-docker:password"],
      ["unknown persistence", { "redis-on-docker:persistence": "always" }, "redis-on-docker:persistence"],
      ["zero node timeout", { "redis-on-docker:nodeTimeoutMs": "0" }, "redis-on-docker:nodeTimeoutMs"],
      ["misspelt key", { "redis-on-docker:clusterNode": "6" }, "redis-on-docker:clusterNode"],
    ];
    for (const [why, change, key] of rejections) {
      it(`rejects ${why}, naming ${key} and the stack file`, async () => {
        let failure: unknown;
        await runMocked(() => readStackSettings(), { config: { ...valid, ...change }, secretKeys: ["redis-on-docker:password"], stack: "ci" })
          .catch((e) => (failure = e));
        expect(failure).to.be.instanceOf(SettingError);
        expect((failure as SettingError).setting).to.equal(key);
        expect((failure as Error).message).to.contain(key).and.contain("Pulumi.ci.yaml");
        expect((failure as Error).message).not.to.contain("7731");
      });
    }

    it("runs infra/index.ts end to end: a bad key stops the program before any resource", async () => {
      let failure: unknown;
      const run = await runMocked(
        () => {
          try {
            loadIndexFresh();
          } catch (error) {
            failure = error;
          }
        },
        { config: { ...valid, "redis-on-docker:hostBindAddress": "everywhere" }, stack: "dev" },
      );
      expect(failure).to.be.instanceOf(SettingError);
      expect((failure as Error).message).to.contain("redis-on-docker:hostBindAddress in Pulumi.dev.yaml");
      expect(run.resources).to.deep.equal([]);
    });

    it("runs infra/index.ts end to end: exports every field of the outputs contract", async () => {
      const run = await runMocked(() => loadIndexFresh(), {
        config: valid,
        secretKeys: ["redis-on-docker:password"],
        extraState: bootstrapExits(0),
      });
      const exported = run.result as unknown as RedisStackExports;
      expect(Object.keys(exported).sort()).to.deep.equal(
        ["cluster", "password", "passwordRequired", "redisImage", "redisVersion", "schemaVersion", "standalone"],
      );
      expect(await pulumi.isSecret(exported.password)).to.equal(true);
      const document = await exportedDocument(exported);
      expect(document.schemaVersion).to.equal(1);
      expect(document.password).to.equal(PASSWORD);
      expect(document.cluster.seeds).to.have.length(6);
      expect(containers(run.resources)).to.have.length(8);
    });
  });
});

/** Loads the Pulumi entry point as the Pulumi runtime would, once per call. */
function loadIndexFresh(): Record<string, unknown> {
  const path = require.resolve("../../infra/index");
  delete require.cache[path];
  const loaded = require(path) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(loaded).filter(([k]) => k !== "__esModule"));
}
