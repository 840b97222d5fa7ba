/**
 * `new RedisOnDocker(name, args, opts)` under Pulumi's mocks, as a caller with its own Pulumi
 * program uses it: defaults, typed outputs (the outputs contract, password secret), bad args
 * named before any resource, and a caller's own `docker.Provider` reaching every docker resource.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { RedisOnDocker, SettingError, type StackOutputs } from "@redis-on-docker/pulumi";
import { expect } from "chai";
import { runMocked, valueOf, type ExtraState, type RegisteredResource } from "../support/pulumiMocks";
import { checkDockerEngineVersion } from "@redis-on-docker/pulumi";

const bootstrapExits0: ExtraState = (type) => (type === "docker:index/container:Container" ? { exitCode: 0 } : {});
const dockerResources = (resources: RegisteredResource[]): RegisteredResource[] =>
  resources.filter((r) => r.custom && r.type.startsWith("docker:"));

async function document(component: RedisOnDocker): Promise<StackOutputs> {
  const o = component.outputs();
  return {
    schemaVersion: await valueOf(o.schemaVersion),
    redisImage: await valueOf(o.redisImage),
    redisVersion: await valueOf(o.redisVersion),
    passwordRequired: await valueOf(o.passwordRequired),
    password: await valueOf(o.password),
    standalone: await valueOf(o.standalone),
    cluster: await valueOf(o.cluster),
  };
}

describe("@redis-on-docker/pulumi: RedisOnDocker", function () {
  it("with a caller's docker.Provider in opts, every docker resource goes through it", async function () {
    const run = await runMocked(
      () => {
        const provider = new docker.Provider("remote-docker", { host: "ssh://deploy@docker.example" });
        const redis = new RedisOnDocker("cache", { password: pulumi.secret("provider-test-pw"), namePrefix: "cache" }, { provider });
        return { provider, redis };
      },
      { extraState: bootstrapExits0 },
    );
    const providerUrn = await valueOf(run.result.provider.urn);
    const providerId = await valueOf(run.result.provider.id);
    const docker_ = dockerResources(run.resources);
    // network, image, 7 volumes, 7 node containers, the bootstrap job
    expect(docker_.map((r) => r.type).sort()).to.include.members(["docker:index/network:Network", "docker:index/remoteImage:RemoteImage"]);
    expect(docker_.filter((r) => r.type === "docker:index/container:Container")).to.have.length(8);
    for (const r of docker_) expect(r.provider, `${r.type} ${r.name}`).to.equal(`${providerUrn}::${providerId}`);
    // The component is the parent of its parts.
    const component = run.resources.find((r) => r.type === "redis-on-docker:index:RedisOnDocker");
    expect(component?.name).to.equal("cache");
    const componentUrn = component?.urn as string;
    const topLevel = run.resources.filter((r) => r.parentUrn === componentUrn).map((r) => r.type).sort();
    expect(topLevel).to.deep.equal([
      "docker:index/remoteImage:RemoteImage",
      "redis-on-docker:index:RedisClusterBootstrap",
      "redis-on-docker:index:RedisClusterNodes",
      "redis-on-docker:index:RedisNetwork",
      "redis-on-docker:index:RedisServer",
    ]);
    // Stacks made before the component existed had these at the root: the alias keeps them (no replacement).
    for (const r of run.resources.filter((r) => r.parentUrn === componentUrn)) expect(r.aliasedFromRoot, `${r.type} ${r.name}`).to.equal(true);
  });

  it("without a provider, the docker resources use the default provider (an empty reference)", async function () {
    const run = await runMocked(() => new RedisOnDocker("plain", { allowNoPassword: true }), { extraState: bootstrapExits0 });
    for (const r of dockerResources(run.resources)) expect(r.provider, `${r.type} ${r.name}`).to.equal("");
  });

  it("outputs the outputs contract with the defaults of today's stack settings; the password is secret", async function () {
    const run = await runMocked(() => new RedisOnDocker("defaults", { password: "plain-pw-given" }), { extraState: bootstrapExits0 });
    const redis = run.result;
    expect(await pulumi.isSecret(redis.password)).to.equal(true);
    const doc = await document(redis);
    expect(doc).to.deep.include({ schemaVersion: 1, redisImage: "redis:5.0.4", redisVersion: "5.0.4", passwordRequired: true, password: "plain-pw-given" });
    expect(doc.standalone).to.deep.equal({ host: "127.0.0.1", port: 6380, internalHost: "10.213.0.10", internalPort: 6379 });
    expect(doc.cluster.seeds.map((s) => s.port)).to.deep.equal([6381, 6382, 6383, 6384, 6385, 6386]);
    expect(doc.cluster.replicasPerMaster).to.equal(1);
    expect(redis.settings).to.deep.include({ clusterNodes: 6, nodeTimeoutMs: 5000, persistence: "aof", namePrefix: "redis", hostBindAddress: "127.0.0.1" });
  });

  it("a bad argument throws a SettingError naming it, before any resource", async function () {
    let failure: unknown;
    const run = await runMocked(() => {
      try {
        new RedisOnDocker("bad", { password: "pw", clusterNodes: 5 });
      } catch (error) {
        failure = error;
      }
    });
    expect(failure).to.be.instanceOf(SettingError);
    expect((failure as Error).message).to.include("clusterNodes").and.to.include("RedisOnDocker args");
    expect(run.resources.filter((r) => r.custom)).to.deep.equal([]);
  });

  it("no password and no allowNoPassword is refused", async function () {
    let failure: unknown;
    await runMocked(() => {
      try {
        new RedisOnDocker("nopw", {});
      } catch (error) {
        failure = error;
      }
    });
    expect(failure).to.be.instanceOf(SettingError);
    expect((failure as SettingError).setting).to.include("password");
  });

  it("checkDockerEngineVersion refuses Engine 25.0.0 naming the version and the fix; 24.x, 25.0.1, 27.x pass", () => {
    expect(() => checkDockerEngineVersion("25.0.0", "unix:///var/run/docker.sock")).to.throw(/Docker Engine 25\.0\.0 at unix:\/\/\/var\/run\/docker\.sock is not supported.*moby#47120.*25\.0\.1 or later/);
    for (const v of ["24.0.7", "25.0.1", "27.3.1", "20.10.24+dfsg1"]) expect(() => checkDockerEngineVersion(v, "x")).to.not.throw();
  });
});
