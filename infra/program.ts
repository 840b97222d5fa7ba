/**
 * The Pulumi program: stack config -> topology plan -> Docker resources -> stack exports.
 * `infra/index.ts` is the entry point Pulumi runs; tests call `defineRedisStack` directly.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackOutputs } from "@redis-on-docker/connector";
import { RedisClusterBootstrap, RedisClusterNodes, RedisNetwork, RedisServer } from "./components";
import { planTopology } from "./plan";
import { CONFIG_NAMESPACE, validateStackSettings, type StackSettings } from "./settings";

/** The stack's exports: one Output per field of the outputs contract. */
export type RedisStackExports = { [K in keyof StackOutputs]: pulumi.Output<StackOutputs[K]> };

/**
 * Reads the `redis-on-docker:*` stack config and validates it; a bad value throws a
 * `SettingError` naming the key and `Pulumi.<stack>.yaml`. All keys of the namespace are read,
 * so a misspelt key is an error rather than silently ignored.
 */
export function readStackSettings(): StackSettings {
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(`${CONFIG_NAMESPACE}:`)) raw[key] = value;
  }
  return validateStackSettings(raw, `Pulumi.${pulumi.getStack()}.yaml`);
}

/**
 * Declares the network, the image, the standalone server, the cluster nodes and the bootstrap
 * job for `settings`, and returns the exports. The password is exported as a secret and reaches
 * the containers only as uploaded (secret) files.
 */
export function defineRedisStack(settings: StackSettings): RedisStackExports {
  const plan = planTopology(settings);
  const password = settings.password === undefined ? undefined : pulumi.secret(settings.password);

  const network = new RedisNetwork(plan.network.name, { plan: plan.network });
  const image = new docker.RemoteImage(`${settings.namePrefix}-image`, { name: plan.image, keepLocally: true });
  const common = { imageId: image.imageId, networkName: network.networkName, password };

  const standalone = new RedisServer(plan.standalone.name, {
    node: plan.standalone,
    ...common,
    retainDataVolume: plan.retainDataVolumes,
  });
  const clusterNodes = new RedisClusterNodes(`${settings.namePrefix}-cluster`, {
    nodes: plan.clusterNodes,
    ...common,
    retainDataVolumes: plan.retainDataVolumes,
  });
  const bootstrap = new RedisClusterBootstrap(plan.bootstrap.name, {
    plan: plan.bootstrap,
    ...common,
    nodeContainers: clusterNodes.servers.map((s) => s.container),
  });

  const outputs = plan.outputs;
  return {
    schemaVersion: pulumi.output(outputs.schemaVersion),
    redisImage: image.name,
    redisVersion: pulumi.output(outputs.redisVersion),
    passwordRequired: pulumi.output(outputs.passwordRequired),
    password: pulumi.secret(settings.password ?? ""),
    // Exported once the container exists.
    standalone: standalone.container.id.apply(() => outputs.standalone),
    // Exported only once the bootstrap job exited 0: a failed job rejects this and fails `pulumi up`.
    cluster: bootstrap.exitCode.apply(() => outputs.cluster),
  };
}
