/**
 * `RedisOnDocker` with `hosts` under Pulumi's mocks: one host (or none) declares today's
 * resources unchanged; several hosts put each resource on its host's `docker.Provider`, publish
 * client and bus ports on the host's bind address, announce the host's address and those ports,
 * run the job on the first host, and export the seeds as clients reach them.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { RedisOnDocker, SettingError, type RedisOnDockerHost, type StackOutputs } from "@redis-on-docker/pulumi";
import { CONTAINER_CONFIG_PATH, planTopology } from "@redis-on-docker/topology";
import { expect } from "chai";
import { plain, runMocked, valueOf, type ExtraState, type RegisteredResource } from "../support/pulumiMocks";

const CONTAINER = "docker:index/container:Container";
const NETWORK = "docker:index/network:Network";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const VOLUME = "docker:index/volume:Volume";
const bootstrapExits0: ExtraState = (type) => (type === CONTAINER ? { exitCode: 0 } : {});

/** What the engine would act on, with the provider reference left out (compared separately). */
function shape(resources: RegisteredResource[]): unknown[] {
  return resources
    .filter((r) => r.type !== "pulumi:providers:docker")
    .map((r) => ({
      urn: r.urn,
      parent: r.parentUrn,
      inputs: plain(r.inputs),
      dependencies: [...r.dependencies].sort(),
      aliasedFromRoot: r.aliasedFromRoot,
      retainOnDelete: r.retainOnDelete,
      deleteBeforeReplace: r.deleteBeforeReplace,
    }));
}

async function providerRef(provider: docker.Provider): Promise<string> {
  return `${await valueOf(provider.urn)}::${await valueOf(provider.id)}`;
}

function redisConfOf(container: RegisteredResource): string {
  const uploads = plain(container.inputs.uploads) as Array<{ file: string; content: string }>;
  const conf = uploads.find((u) => u.file === CONTAINER_CONFIG_PATH);
  if (conf === undefined) throw new Error(`${container.name} has no redis.conf upload`);
  return conf.content;
}

function directive(conf: string, name: string): string | undefined {
  return conf.split("\n").find((l) => l.startsWith(`${name} `))?.slice(name.length + 1);
}

const THREE_HOSTS = [
  { name: "host-a", address: "10.77.0.11", bindAddress: "10.77.0.11" },
  { name: "host-b", address: "10.77.0.12" },
  { name: "host-c", address: "10.77.0.13", bindAddress: "0.0.0.0" },
] as const;

function threeHostProgram(extra: Partial<ConstructorParameters<typeof RedisOnDocker>[1]> = {}) {
  return () => {
    const providers = THREE_HOSTS.map((h) => new docker.Provider(`docker-${h.name}`, { host: `ssh://deploy@${h.address}` }));
    const hosts: RedisOnDockerHost[] = THREE_HOSTS.map((h, i) => ({ ...h, provider: providers[i] }));
    const redis = new RedisOnDocker("spread", { password: pulumi.secret("multi-host-pw"), namePrefix: "spread", hosts, ...extra });
    return { providers, redis };
  };
}

describe("@redis-on-docker/pulumi: RedisOnDocker across hosts", function () {
  this.timeout(30_000);

  it("no hosts, or one host, declares today's resources: same URNs, parents, inputs and dependencies; one host's provider reaches them all", async function () {
    const viaOpts = await runMocked(
      () => {
        const provider = new docker.Provider("engine", { host: "ssh://deploy@10.77.0.11" });
        return { provider, redis: new RedisOnDocker("redis", { password: pulumi.secret("one-host-pw") }, { provider }) };
      },
      { extraState: bootstrapExits0 },
    );
    const oneHost = await runMocked(
      () => {
        const provider = new docker.Provider("engine", { host: "ssh://deploy@10.77.0.11" });
        const hosts = [{ name: "only", address: "10.77.0.11", provider }];
        return { provider, redis: new RedisOnDocker("redis", { password: pulumi.secret("one-host-pw"), hosts }) };
      },
      { extraState: bootstrapExits0 },
    );
    const none = await runMocked(() => new RedisOnDocker("redis", { password: pulumi.secret("one-host-pw"), hosts: [] }), { extraState: bootstrapExits0 });

    expect(shape(oneHost.resources)).to.deep.equal(shape(viaOpts.resources));
    expect(shape(none.resources)).to.deep.equal(shape(viaOpts.resources));
    const ref = await providerRef(oneHost.result.provider);
    for (const r of oneHost.resources.filter((r) => r.custom && r.type.startsWith("docker:"))) expect(r.provider, r.name).to.equal(ref);
    // Today's names (a rename would replace a deployed stack's resources): one network, one image, 7 servers, the job.
    const names = none.resources.filter((r) => r.custom).map((r) => `${r.type.split(":").pop()} ${r.name}`).sort();
    expect(names).to.deep.equal(
      [
        "Network redis-net",
        "RemoteImage redis-image",
        "Volume redis-standalone-data",
        "Container redis-standalone",
        ...[0, 1, 2, 3, 4, 5].flatMap((i) => [`Volume redis-node-${i}-data`, `Container redis-node-${i}`]),
        "Container redis-cluster-bootstrap",
      ].sort(),
    );
    // One host publishes client ports only (no bus ports), on loopback, and announces nothing.
    for (const c of none.resources.filter((r) => r.type === CONTAINER && r.name.startsWith("redis-node-"))) {
      expect(plain(c.inputs.ports), c.name).to.have.length(1);
      expect(redisConfOf(c), c.name).not.to.include("cluster-announce");
    }
  });

  it("each host gets its own network and image on its provider; every node's container and volume go to its planned host's provider", async function () {
    const run = await runMocked(threeHostProgram(), { extraState: bootstrapExits0 });
    const refs = await Promise.all(run.result.providers.map(providerRef));
    const refOf = new Map<string, string>(THREE_HOSTS.map((h, i) => [h.name, refs[i]]));
    const hostOfRef = new Map(THREE_HOSTS.map((h, i) => [refs[i], h.name]));

    const networks = run.resources.filter((r) => r.type === NETWORK);
    const images = run.resources.filter((r) => r.type === IMAGE);
    expect(networks.map((n) => hostOfRef.get(n.provider)).sort()).to.deep.equal(["host-a", "host-b", "host-c"]);
    expect(images.map((n) => hostOfRef.get(n.provider)).sort()).to.deep.equal(["host-a", "host-b", "host-c"]);
    for (const r of run.resources.filter((r) => r.custom && r.type.startsWith("docker:"))) {
      expect(hostOfRef.has(r.provider), `${r.type} ${r.name} on one of the hosts' providers (got ${r.provider || "the default"})`).to.equal(true);
    }

    const plan = planTopology({ ...run.result.redis.settings, password: "x" });
    const byName = new Map(run.resources.filter((r) => r.type === CONTAINER).map((c) => [c.name, c]));
    for (const node of [plan.standalone, ...plan.clusterNodes]) {
      const container = byName.get(node.name);
      expect(container, node.name).not.to.equal(undefined);
      const host = hostOfRef.get(container!.provider);
      expect(host, `${node.name}'s container`).to.equal(node.host);
      // Its network and image are its host's own.
      const network = networks.find((n) => n.provider === container!.provider)!;
      const image = images.find((n) => n.provider === container!.provider)!;
      expect((plain(container!.inputs.networksAdvanced) as Array<{ name: string }>)[0].name).to.equal(plain(network.inputs.name));
      expect(container!.dependencies, `${node.name} uses its host's image`).to.include(image.urn);
      const volume = run.resources.find((r) => r.type === VOLUME && r.name === node.dataVolume)!;
      expect(volume.provider, `${node.dataVolume}`).to.equal(refOf.get(node.host as string));
    }
    // Spread, read from where the containers went: no master on a host with one of its replicas.
    const replicas = plan.clusterNodes.filter((n) => n.replicaOf !== undefined);
    expect(replicas).to.have.length(3);
    for (const r of replicas) {
      expect(byName.get(r.name)!.provider, `${r.name} and its master ${r.replicaOf}`).not.to.equal(byName.get(r.replicaOf as string)!.provider);
    }
    // The job runs on the first host, on its network, after every node.
    const job = byName.get("spread-cluster-bootstrap")!;
    expect(job.provider).to.equal(refOf.get("host-a"));
    expect((plain(job.inputs.networksAdvanced) as Array<{ name: string }>)[0].name).to.equal("spread-net-host-a");
    for (const n of plan.clusterNodes) expect(job.dependencies, n.name).to.include(byName.get(n.name)!.urn);
  });

  it("each node publishes its client and bus ports on its host's bind address and announces the host's address and those ports", async function () {
    const run = await runMocked(threeHostProgram({ hostPortBase: 7100 }), { extraState: bootstrapExits0 });
    const refs = await Promise.all(run.result.providers.map(providerRef));
    const hostOfRef = new Map(THREE_HOSTS.map((h, i) => [refs[i], h]));
    const nodes = run.resources.filter((r) => r.type === CONTAINER && r.name.startsWith("spread-node-"));
    expect(nodes).to.have.length(6);
    const seen = new Set<number>();
    for (const c of nodes) {
      const host = hostOfRef.get(c.provider)!;
      const bind = "bindAddress" in host ? host.bindAddress : host.address;
      const ports = plain(c.inputs.ports) as Array<{ internal: number; external: number; ip: string; protocol: string }>;
      expect(ports, c.name).to.have.length(2);
      const [client, bus] = ports;
      expect(client).to.deep.include({ internal: 6379, ip: bind, protocol: "tcp" });
      expect(bus).to.deep.equal({ internal: 16379, external: client.external + 10000, ip: bind, protocol: "tcp" });
      expect(client.external).to.be.within(7101, 7106);
      seen.add(client.external);
      const conf = redisConfOf(c);
      expect(directive(conf, "cluster-announce-ip"), c.name).to.equal(host.address);
      expect(directive(conf, "cluster-announce-port"), c.name).to.equal(String(client.external));
      expect(directive(conf, "cluster-announce-bus-port"), c.name).to.equal(String(bus.external));
    }
    expect(seen.size).to.equal(6);
    const standalone = run.resources.find((r) => r.type === CONTAINER && r.name === "spread-standalone")!;
    expect(plain(standalone.inputs.ports)).to.deep.equal([{ internal: 6379, external: 7100, ip: "10.77.0.11", protocol: "tcp" }]);
  });

  it("outputs the seeds as clients reach them (host address + published port), no natMap; the bootstrap uses the same addresses", async function () {
    const run = await runMocked(threeHostProgram(), { extraState: bootstrapExits0 });
    const redis = run.result.redis;
    const cluster: StackOutputs["cluster"] = await valueOf(redis.cluster);
    const standalone = await valueOf(redis.standalone);
    const nodes = run.resources.filter((r) => r.type === CONTAINER && r.name.startsWith("spread-node-"));
    const announced = nodes.map((c) => {
      const conf = redisConfOf(c);
      return `${directive(conf, "cluster-announce-ip")}:${directive(conf, "cluster-announce-port")}`;
    });
    expect(cluster.seeds.map((s) => `${s.host}:${s.port}`).sort()).to.deep.equal([...announced].sort());
    expect(cluster.natMap).to.deep.equal({});
    expect(standalone).to.deep.include({ host: "10.77.0.11", port: 6380 });
    const job = run.resources.find((r) => r.type === CONTAINER && r.name === "spread-cluster-bootstrap")!;
    const script = (plain(job.inputs.uploads) as Array<{ content: string }>)[0].content;
    for (const a of announced) expect(script, `the job reaches ${a}`).to.include(a);
  });

  it("refuses several hosts without a password, a host without a provider, and hosts that cannot keep masters from their replicas", async function () {
    const attempt = async (make: () => void): Promise<unknown> => {
      let failure: unknown;
      const run = await runMocked(() => {
        try {
          make();
        } catch (e) {
          failure = e;
        }
      });
      // Nothing docker is declared before the error (providers are the caller's).
      expect(run.resources.filter((r) => r.custom && r.type.startsWith("docker:"))).to.deep.equal([]);
      return failure;
    };
    const providers = () => THREE_HOSTS.map((h) => new docker.Provider(`p-${h.name}`, { host: `ssh://x@${h.address}` }));

    const noPassword = await attempt(() => {
      const p = providers();
      new RedisOnDocker("np", { allowNoPassword: true, hosts: THREE_HOSTS.map((h, i) => ({ ...h, provider: p[i] })) });
    });
    expect(noPassword).to.be.instanceOf(SettingError);
    expect((noPassword as SettingError).setting).to.equal("redis-on-docker:password");
    expect((noPassword as Error).message).to.include("3 hosts");

    const noProvider = await attempt(() => {
      const p = providers();
      const hosts = THREE_HOSTS.map((h, i) => ({ ...h, provider: p[i] }));
      new RedisOnDocker("nop", { password: "pw-x", hosts: [hosts[0], { ...hosts[1], provider: undefined as unknown as docker.Provider }] });
    });
    expect(noProvider).to.be.instanceOf(SettingError);
    expect((noProvider as Error).message).to.include("entry 2 (host-b) needs a provider");

    const tooFew = await attempt(() => {
      const p = providers();
      new RedisOnDocker("few", { password: "pw-x", replicasPerMaster: 2, clusterNodes: 9, hosts: THREE_HOSTS.slice(0, 2).map((h, i) => ({ ...h, provider: p[i] })) });
    });
    expect(tooFew).to.be.instanceOf(SettingError);
    expect((tooFew as SettingError).setting).to.equal("redis-on-docker:hosts");
  });
});
