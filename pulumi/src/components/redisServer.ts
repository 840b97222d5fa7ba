import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DAEMON_FILLED_CONTAINER_INPUTS } from "./daemonDefaults";
import { CLUSTER_BUS_PORT_OFFSET, CONTAINER_CONFIG_PATH, CONTAINER_DATA_DIR, renderRedisConf, type NodePlan } from "@redis-on-docker/topology";

/** How long Docker waits between healthchecks, and how long `pulumi up` waits for a node to be healthy. */
export const HEALTHCHECK = { interval: "2s", timeout: "2s", retries: 15, startPeriod: "2s" } as const;
export const HEALTHY_WAIT_TIMEOUT_SEC = 60;
/** How long a node may take to shut down (save its data) before Docker kills it. */
export const DESTROY_GRACE_SECONDS = 20;

export interface RedisServerArgs {
  /** The node from the topology plan: name, static IP, ports, directives, command, healthcheck. */
  node: NodePlan;
  /** Image ID to run (the stack's `RemoteImage.imageId`). */
  imageId: pulumi.Input<string>;
  /** Docker network the node joins with its static IP. */
  networkName: pulumi.Input<string>;
  /** Password for `requirepass` + `masterauth`; undefined for none. Only ever reaches the uploaded redis.conf. */
  password?: pulumi.Input<string>;
  /** Keep the data volume when the stack is destroyed (it is always kept across a replacement of the container). */
  retainDataVolume?: boolean;
}

/**
 * One redis-server container and its named data volume. Its redis.conf (with the password) is
 * uploaded as a secret file, so the password is in neither the command line nor the environment.
 */
export class RedisServer extends pulumi.ComponentResource {
  readonly container: docker.Container;
  /** Mounted at /data; a resource of its own, so replacing the container (a new password) keeps it. */
  readonly dataVolume: docker.Volume;
  /** Container name on the stack network. */
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: RedisServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-on-docker:index:RedisServer", name, {}, opts);
    const { node } = args;
    const redisConf = pulumi.secret(
      pulumi.output(args.password).apply((password) => renderRedisConf(node, password)),
    );
    this.dataVolume = new docker.Volume(
      node.dataVolume,
      { name: node.dataVolume, labels: [{ label: "redis-on-docker.node", value: node.name }] },
      // Removed by `pulumi destroy` unless retainDataVolumes asks to keep the data.
      { parent: this, retainOnDelete: args.retainDataVolume === true },
    );
    this.container = new docker.Container(
      node.name,
      {
        name: node.name,
        image: args.imageId,
        command: node.command,
        networksAdvanced: [{ name: args.networkName, ipv4Address: node.ip, aliases: [node.name] }],
        ports: [
          { internal: node.port, external: node.hostPort, ip: node.hostBindAddress, protocol: "tcp" },
          // Across hosts the other nodes reach this one's cluster bus at its host's address: publish it
          // too (the port it announces with cluster-announce-bus-port). On one host they meet on the network.
          ...(node.hostBusPort === undefined
            ? []
            : [{ internal: node.port + CLUSTER_BUS_PORT_OFFSET, external: node.hostBusPort, ip: node.hostBindAddress, protocol: "tcp" }]),
        ],
        healthcheck: { tests: node.healthcheck, ...HEALTHCHECK },
        restart: "unless-stopped",
        // redis-server drops to the `redis` user in the official image, so the file must be world-readable inside the container.
        uploads: [{ file: CONTAINER_CONFIG_PATH, content: redisConf, permissions: "0644" }],
        // A named volume: the provider's removeVolumes (default true) removes only anonymous ones,
        // such as the image's own VOLUME /data, which this mount replaces.
        volumes: [{ volumeName: this.dataVolume.name, containerPath: CONTAINER_DATA_DIR }],
        // On delete/replace, SIGTERM and time to shut down: redis-server then writes its RDB
        // (persistence rdb) and flushes the AOF. The provider's default (0) kills it at once.
        destroyGraceSeconds: DESTROY_GRACE_SECONDS,
        // `pulumi up` returns only when the node answers its healthcheck.
        wait: true,
        waitTimeout: HEALTHY_WAIT_TIMEOUT_SEC,
        labels: [{ label: "redis-on-docker.role", value: node.role }],
      },
      // The name is fixed, so a replacement must remove the old container first. A daemon's
      // log-opts / default-ulimits must not replace it on every up.
      { parent: this, deleteBeforeReplace: true, ignoreChanges: DAEMON_FILLED_CONTAINER_INPUTS },
    );
    this.containerName = this.container.name;
    this.registerOutputs({ containerName: this.containerName });
  }
}
