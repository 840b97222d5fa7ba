/**
 * `RedisOnDocker`: the whole topology (network, image, standalone server, cluster nodes and the
 * bootstrap job that forms the cluster) as one Pulumi component, and its outputs as the outputs
 * contract. Settings -> plan (`@redis-on-docker/topology`) -> the parts in `./components`.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackOutputs } from "@redis-on-docker/outputs";
import {
  CONFIG_NAMESPACE,
  SettingError,
  planTopology,
  validateStackSettings,
  type HostPlan,
  type NodePlan,
  type StackSettings,
  type TopologyPlan,
} from "@redis-on-docker/topology";
import { RedisClusterBootstrap, RedisClusterNodes, RedisNetwork, RedisServer } from "./components";
import { defaultDockerEngine, dockerEngineGate, providerDockerEngine, type DockerEngineRef } from "./dockerEngineVersion";

/** One Docker host of a multi-host deployment: its engine, and how others reach it. */
export interface RedisOnDockerHost {
  /** Unique name, e.g. `host-a` (1-40 of [a-zA-Z0-9_.-]); names the host's network and image resources. */
  name: string;
  /** The host's Docker engine (e.g. `new docker.Provider("host-a", { host: "ssh://deploy@10.0.0.11" })`). */
  provider: docker.Provider;
  /**
   * IP address the other hosts and the clients reach this host at. Every node on it announces it
   * (`cluster-announce-ip`); Redis 5 announces no host names.
   */
  address: string;
  /**
   * Address the host's published client and cluster bus ports bind to. Default: `address`.
   * Firewall those ports so that only the app hosts and the other Redis hosts reach them.
   */
  bindAddress?: string;
}

/**
 * What the component can be told: the stack settings (`StackSettings`, where each field's doc and
 * default are stated), each optional, the password also as a Pulumi Output, and the hosts with
 * their Docker providers.
 */
export interface RedisOnDockerArgs extends Partial<Omit<StackSettings, "password" | "hosts">> {
  /**
   * Password of every node (`requirepass` + `masterauth`). Required unless `allowNoPassword`; pass a
   * secret (e.g. `config.requireSecret(...)`). The component's `password` output is always secret.
   */
  password?: pulumi.Input<string>;
  /**
   * The Docker hosts to spread the cluster over, one `docker.Provider` each. None or one: today's
   * single-host deployment (one host's provider then reaches every resource; its `address` and
   * `bindAddress` are not used: `hostBindAddress` is). Two or more: each host gets its own network
   * and image; each cluster node runs on its planned host (no master on a host with one of its
   * replicas), publishes its client port and its cluster bus port (client port + 10000) on the
   * host's `bindAddress`, and announces the host's `address` and those ports. The standalone
   * server and the bootstrap job run on the first host. A password is required.
   */
  hosts?: RedisOnDockerHost[];
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
   * At `up` the resources are declared once each engine's version passed (Docker Engine 25.0.0 is
   * refused: the outputs reject with a RunError saying why, and nothing is created).
   */
  constructor(name: string, args: RedisOnDockerArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("redis-on-docker:index:RedisOnDocker", name, {}, opts);
    const { password: passwordArg, hosts: hostArgs, ...rest } = args;
    const hosts = checkHosts(hostArgs);
    const plainPassword = typeof passwordArg === "string" ? passwordArg : undefined;
    const outputPassword = passwordArg !== undefined && typeof passwordArg !== "string";
    const settings = validateStackSettings(
      {
        ...definedOnly(rest),
        // The plan needs only what a host is; its provider stays here.
        ...(hosts.length > 0 ? { hosts: hosts.map(({ provider: _provider, ...spec }) => spec) } : {}),
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
    // The resources are declared only once every engine passed the version check (at `up`; a
    // preview declares them at once): a refused engine gets no resource at all, and the check's
    // error rejects this component's outputs, which fails the update.
    const declared = dockerEngineGate(enginesOf(hosts, opts), this).apply(() =>
      plan.hosts === undefined
        ? this.declareOnOneHost(plan, settings.namePrefix, password, hosts.length === 1 ? { ...child, provider: hosts[0].provider } : child)
        : this.declareOnHosts(plan, plan.hosts, hosts, settings.namePrefix, password),
    );

    const outputs = plan.outputs;
    this.schemaVersion = pulumi.output(outputs.schemaVersion);
    this.redisImage = declared.apply((parts) => parts.imageName);
    this.redisVersion = pulumi.output(outputs.redisVersion);
    this.passwordRequired = pulumi.output(outputs.passwordRequired);
    this.password = pulumi.secret(password ?? "");
    this.standalone = declared.apply((parts) => parts.standalone.container.id).apply(() => outputs.standalone);
    this.cluster = declared.apply((parts) => parts.bootstrap.exitCode).apply(() => outputs.cluster);
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

  /** Today's resources, names and parents (single host): one network and image, every node on it. */
  private declareOnOneHost(
    plan: TopologyPlan,
    namePrefix: string,
    password: pulumi.Output<string> | undefined,
    child: pulumi.ComponentResourceOptions,
  ): { standalone: RedisServer; bootstrap: RedisClusterBootstrap; imageName: pulumi.Output<string> } {
    const network = new RedisNetwork(plan.network.name, { plan: plan.network }, child);
    const image = new docker.RemoteImage(`${namePrefix}-image`, { name: plan.image, keepLocally: true }, child);
    const common = { imageId: image.imageId, networkName: network.networkName, password };

    const standalone = new RedisServer(plan.standalone.name, { node: plan.standalone, ...common, retainDataVolume: plan.retainDataVolumes }, child);
    const clusterNodes = new RedisClusterNodes(
      `${namePrefix}-cluster`,
      { nodes: plan.clusterNodes, ...common, retainDataVolumes: plan.retainDataVolumes },
      child,
    );
    const bootstrap = new RedisClusterBootstrap(
      plan.bootstrap.name,
      { plan: plan.bootstrap, ...common, nodeContainers: clusterNodes.servers.map((s) => s.container) },
      child,
    );
    return { standalone, bootstrap, imageName: image.name };
  }

  /**
   * Two or more hosts: per host a network and an image on its provider; each node on its planned
   * host, publishing its client and bus ports; the standalone server and the job on the first host.
   */
  private declareOnHosts(
    plan: TopologyPlan,
    hostPlans: HostPlan[],
    hosts: RedisOnDockerHost[],
    namePrefix: string,
    password: pulumi.Output<string> | undefined,
  ): { standalone: RedisServer; bootstrap: RedisClusterBootstrap; imageName: pulumi.Output<string> } {
    const perHost = new Map<string, { provider: docker.Provider; imageId: pulumi.Output<string>; networkName: pulumi.Output<string> }>();
    for (const hostPlan of hostPlans) {
      const host = hosts.find((h) => h.name === hostPlan.name);
      if (host === undefined) throw new Error(`the plan placed nodes on host ${hostPlan.name}, which RedisOnDocker was not given`);
      const opts: pulumi.ComponentResourceOptions = { parent: this, provider: host.provider };
      // Docker names are per engine, but Pulumi names are per stack: both carry the host's name.
      const networkPlan = { ...plan.network, name: `${plan.network.name}-${host.name}` };
      const network = new RedisNetwork(networkPlan.name, { plan: networkPlan }, opts);
      const image = new docker.RemoteImage(`${namePrefix}-image-${host.name}`, { name: plan.image, keepLocally: true }, opts);
      perHost.set(host.name, { provider: host.provider, imageId: image.imageId, networkName: network.networkName });
    }
    const on = (node: NodePlan) => {
      const found = node.host === undefined ? undefined : perHost.get(node.host);
      if (found === undefined) throw new Error(`the plan gave node ${node.name} no known host (${String(node.host)})`);
      return found;
    };
    const standaloneHost = on(plan.standalone);
    const standalone = new RedisServer(
      plan.standalone.name,
      { node: plan.standalone, imageId: standaloneHost.imageId, networkName: standaloneHost.networkName, password, retainDataVolume: plan.retainDataVolumes },
      { parent: this, provider: standaloneHost.provider },
    );
    const clusterNodes = new RedisClusterNodes(
      `${namePrefix}-cluster`,
      { nodes: plan.clusterNodes, hostOf: on, password, retainDataVolumes: plan.retainDataVolumes },
      { parent: this },
    );
    const first = on({ ...plan.standalone, host: hostPlans[0].name });
    // The job reaches every node at its announced address (its host's address and published port).
    const bootstrap = new RedisClusterBootstrap(
      plan.bootstrap.name,
      { plan: plan.bootstrap, imageId: first.imageId, networkName: first.networkName, password, nodeContainers: clusterNodes.servers.map((s) => s.container) },
      { parent: this, provider: first.provider },
    );
    return { standalone, bootstrap, imageName: pulumi.output(plan.image) };
  }

  /** The outputs contract as Outputs (e.g. to export each field as a stack output). */
  outputs(): RedisOnDockerOutputs {
    const { schemaVersion, redisImage, redisVersion, passwordRequired, password, standalone, cluster } = this;
    return { schemaVersion, redisImage, redisVersion, passwordRequired, password, standalone, cluster };
  }
}

/**
 * The engines the resources go to: each host's provider; else a caller's docker.Provider in the
 * options; else the default provider's. (A docker provider inherited from a parent is not seen.)
 */
function enginesOf(hosts: RedisOnDockerHost[], opts: pulumi.ComponentResourceOptions | undefined): DockerEngineRef[] {
  if (hosts.length > 0) return hosts.map((h) => providerDockerEngine(h.provider, `hosts entry ${h.name}: its docker.Provider's host`));
  const given = [opts?.provider, ...(Array.isArray(opts?.providers) ? opts.providers : Object.values(opts?.providers ?? {}))];
  const provider = given.find((p): p is docker.Provider => docker.Provider.isInstance(p));
  return [provider === undefined ? defaultDockerEngine() : providerDockerEngine(provider, "the docker.Provider in RedisOnDocker's options: its host")];
}

/** The hosts as given, each with a docker.Provider; a SettingError naming `hosts` otherwise. */
function checkHosts(hosts: RedisOnDockerHost[] | undefined): RedisOnDockerHost[] {
  if (hosts === undefined) return [];
  const setting = `${CONFIG_NAMESPACE}:hosts`;
  if (!Array.isArray(hosts)) throw new SettingError(setting, `${setting} in ${ARGS_SOURCE}: must be a list of { name, provider, address, bindAddress? }`);
  hosts.forEach((host, i) => {
    if (!docker.Provider.isInstance(host?.provider)) {
      const name = typeof host?.name === "string" ? ` (${host.name})` : "";
      throw new SettingError(setting, `${setting} in ${ARGS_SOURCE}: entry ${i + 1}${name} needs a provider: the docker.Provider of that host's engine`);
    }
  });
  return hosts;
}

/** Leaves out fields set to `undefined`, so they take their defaults rather than fail validation. */
function definedOnly<T extends object>(value: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
