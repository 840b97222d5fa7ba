import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { NodePlan } from "@redis-on-docker/topology";
import { RedisServer } from "./redisServer";

/** Where a node runs: a host's engine, and the image and network declared on it. */
export interface NodeHost {
  provider: docker.Provider;
  imageId: pulumi.Input<string>;
  networkName: pulumi.Input<string>;
}

export interface RedisClusterNodesArgs {
  /** The cluster nodes from the topology plan, in creation order. */
  nodes: NodePlan[];
  /** One host: the image and network every node uses (with the component's own provider). */
  imageId?: pulumi.Input<string>;
  networkName?: pulumi.Input<string>;
  /** Several hosts: where each node runs (by its plan's `host`); replaces imageId and networkName. */
  hostOf?: (node: NodePlan) => NodeHost;
  password?: pulumi.Input<string>;
  retainDataVolumes?: boolean;
}

/** The N cluster-enabled redis-server containers; forming them into a cluster is `RedisClusterBootstrap`'s job. */
export class RedisClusterNodes extends pulumi.ComponentResource {
  readonly servers: RedisServer[];
  readonly containerNames: pulumi.Output<string[]>;

  constructor(name: string, args: RedisClusterNodesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-on-docker:index:RedisClusterNodes", name, {}, opts);
    this.servers = args.nodes.map((node) => {
      const host = args.hostOf?.(node);
      const imageId = host?.imageId ?? args.imageId;
      const networkName = host?.networkName ?? args.networkName;
      if (imageId === undefined || networkName === undefined) throw new Error(`RedisClusterNodes: node ${node.name} has neither hostOf nor imageId and networkName`);
      return new RedisServer(
        node.name,
        { node, imageId, networkName, password: args.password, retainDataVolume: args.retainDataVolumes },
        // Only given with several hosts: one host's nodes inherit the component's provider, as before.
        host === undefined ? { parent: this } : { parent: this, provider: host.provider },
      );
    });
    this.containerNames = pulumi.all(this.servers.map((s) => s.containerName));
    this.registerOutputs({ containerNames: this.containerNames });
  }
}
