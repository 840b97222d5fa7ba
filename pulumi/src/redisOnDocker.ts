/**
 * `RedisOnDocker`: the whole topology (network, image, standalone server, cluster nodes and the
 * bootstrap job that forms the cluster) as one Pulumi component, and its outputs as the outputs
 * contract. Settings -> plan (`@redis-on-docker/topology`) -> the parts in `./components`.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackOutputs } from "@redis-on-docker/outputs";
import { planTopology, validateStackSettings, type StackSettings } from "@redis-on-docker/topology";
import { RedisClusterBootstrap, RedisClusterNodes, RedisNetwork, RedisServer } from "./components";

/**
 * What the component can be told: the stack settings (`StackSettings`, where each field's doc and
 * default are stated), each optional, the password also as a Pulumi Output.
 */
export interface RedisOnDockerArgs extends Partial<Omit<StackSettings, "password">> {
  /**
   * Password of every node (`requirepass` + `masterauth`). Required unless `allowNoPassword`; pass a
   * secret (e.g. `config.requireSecret(...)`). The component's `password` output is always secret.
   */
  password?: pulumi.Input<string>;
}

/** The outputs contract, one Output per field (what a stack exports to be the outputs document). */
export type RedisOnDockerOutputs = { [K in keyof StackOutputs]: pulumi.Output<StackOutputs[K]> };

/** Where validation errors say the bad value came from. */
const ARGS_SOURCE = "RedisOnDocker args";
/** Stands in for a password known only at deployment (an Output) while the plan is made; never rendered. */
const PENDING_PASSWORD = "pending";

export class RedisOnDocker extends pulumi.ComponentResource implements RedisOnDockerOutputs {
  readonly schemaVersion: pulumi.Output<1>;
  readonly redisImage: pulumi.Output<string>;
  readonly redisVersion: pulumi.Output<string>;
  readonly passwordRequired: pulumi.Output<boolean>;
  /** Always a secret; `""` when there is none. */
  readonly password: pulumi.Output<string>;
  /** Known once the standalone container exists. */
  readonly standalone: pulumi.Output<StackOutputs["standalone"]>;
  /** Known once the bootstrap job exited 0: a failed job rejects it and fails the update. */
  readonly cluster: pulumi.Output<StackOutputs["cluster"]>;
  /** The validated settings the component was built from (the password left out). */
  readonly settings: Readonly<Omit<StackSettings, "password">>;

  /**
   * A bad argument throws a `SettingError` naming it before any resource is declared. A caller's
   * `docker.Provider` (`{ provider }` or `{ providers: [provider] }`) reaches every docker resource.
   */
  constructor(name: string, args: RedisOnDockerArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("redis-on-docker:index:RedisOnDocker", name, {}, opts);
    const { password: passwordArg, ...rest } = args;
    const plainPassword = typeof passwordArg === "string" ? passwordArg : undefined;
    const outputPassword = passwordArg !== undefined && typeof passwordArg !== "string";
    const settings = validateStackSettings(
      {
        ...definedOnly(rest),
        ...(plainPassword !== undefined ? { password: plainPassword } : outputPassword ? { password: PENDING_PASSWORD } : {}),
      },
      ARGS_SOURCE,
    );
    const { password: _planned, ...publicSettings } = settings;
    this.settings = Object.freeze(publicSettings);
    const plan = planTopology(settings);
    if (settings.persistence === "none") {
      // Shown by `pulumi preview` and `pulumi up`: any replaced container comes back empty.
      void pulumi.log.warn(
        "persistence is none: every container that `pulumi up` replaces (new password, image, ...) comes back without its keys; use aof (the default) or rdb to keep them",
        this,
      );
    }
    // An Output password is checked (length, characters) when it is known.
    const password =
      passwordArg === undefined
        ? undefined
        : pulumi.secret(pulumi.output(passwordArg).apply((value) => validateStackSettings({ password: value }, ARGS_SOURCE).password ?? ""));

    // Resources declared before the component existed sat at the stack root: the aliases keep them.
    const child: pulumi.ComponentResourceOptions = { parent: this, aliases: [{ parent: pulumi.rootStackResource }] };
    const network = new RedisNetwork(plan.network.name, { plan: plan.network }, child);
    const image = new docker.RemoteImage(`${settings.namePrefix}-image`, { name: plan.image, keepLocally: true }, child);
    const common = { imageId: image.imageId, networkName: network.networkName, password };

    const standalone = new RedisServer(plan.standalone.name, { node: plan.standalone, ...common, retainDataVolume: plan.retainDataVolumes }, child);
    const clusterNodes = new RedisClusterNodes(
      `${settings.namePrefix}-cluster`,
      { nodes: plan.clusterNodes, ...common, retainDataVolumes: plan.retainDataVolumes },
      child,
    );
    const bootstrap = new RedisClusterBootstrap(
      plan.bootstrap.name,
      { plan: plan.bootstrap, ...common, nodeContainers: clusterNodes.servers.map((s) => s.container) },
      child,
    );

    const outputs = plan.outputs;
    this.schemaVersion = pulumi.output(outputs.schemaVersion);
    this.redisImage = image.name;
    this.redisVersion = pulumi.output(outputs.redisVersion);
    this.passwordRequired = pulumi.output(outputs.passwordRequired);
    this.password = pulumi.secret(password ?? "");
    this.standalone = standalone.container.id.apply(() => outputs.standalone);
    this.cluster = bootstrap.exitCode.apply(() => outputs.cluster);
    this.registerOutputs({
      schemaVersion: this.schemaVersion,
      redisImage: this.redisImage,
      redisVersion: this.redisVersion,
      passwordRequired: this.passwordRequired,
      password: this.password,
      standalone: this.standalone,
      cluster: this.cluster,
    });
  }

  /** The outputs contract as Outputs (e.g. to export each field as a stack output). */
  outputs(): RedisOnDockerOutputs {
    const { schemaVersion, redisImage, redisVersion, passwordRequired, password, standalone, cluster } = this;
    return { schemaVersion, redisImage, redisVersion, passwordRequired, password, standalone, cluster };
  }
}

/** Leaves out fields set to `undefined`, so they take their defaults rather than fail validation. */
function definedOnly<T extends object>(value: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
