/**
 * What `new RedisOnDocker(...)` (`@redis-on-docker/pulumi`, used by package name) declares, shown
 * without the Pulumi CLI or a Docker engine: the program runs under Pulumi's mocks, on a
 * `docker.Provider` of its own, and prints each Docker resource with the provider it goes
 * through, then the outputs document's endpoints. Exit code 1 when anything is off.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { RedisOnDocker } from "@redis-on-docker/pulumi";

const declared: Array<{ type: string; name: string; provider: string }> = [];

const valueOf = <T>(output: pulumi.Output<T>): Promise<T> => new Promise((resolve) => output.apply((v) => (resolve(v), v)));

async function main(): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        declared.push({ type: args.type, name: args.name, provider: args.provider ?? "" });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "docker:index/remoteImage:RemoteImage") state.imageId = "sha256:" + "0".repeat(64);
        if (args.type === "docker:index/container:Container") state.exitCode = 0; // the bootstrap job "succeeds"
        return { id: `${args.name}-id`, state };
      },
      call: (args) => {
        throw new Error(`unexpected provider call ${args.token}`);
      },
    },
    "demo",
    "dev",
    false,
  );
  const provider = new docker.Provider("my-docker", { host: "unix:///var/run/docker.sock" });
  const redis = new RedisOnDocker("demo", { password: pulumi.secret("demo-only-password") }, { provider });
  const [standalone, cluster, passwordIsSecret] = await Promise.all([valueOf(redis.standalone), valueOf(redis.cluster), pulumi.isSecret(redis.password)]);
  const providerName = `${await valueOf(provider.urn)}`.split("::").pop();

  for (const r of declared.filter((d) => d.type.startsWith("docker:"))) {
    const via = r.provider === "" ? "the DEFAULT provider" : r.provider.split("::")[3];
    console.log(`  ${r.type.split(":").pop()} ${r.name} -> ${via}`);
    if (!r.provider.includes(`::${providerName}::`)) throw new Error(`${r.type} ${r.name} does not go through ${providerName}`);
  }
  console.log(`standalone: ${standalone.host}:${standalone.port} (in the network ${standalone.internalHost}:${standalone.internalPort})`);
  console.log(`cluster seeds: ${cluster.seeds.map((s) => `${s.host}:${s.port}`).join(" ")}`);
  console.log(`password output is a secret: ${passwordIsSecret}`);
  if (!passwordIsSecret) throw new Error("the password output is not a secret");
}

main().catch((error: Error) => {
  console.error(`pulumi preview: ${error.message}`);
  process.exitCode = 1;
});
