import * as pulumi from "@pulumi/pulumi";
import type { NodePlan } from "@redis-on-docker/topology";
import { RedisServer } from "./redisServer";

export interface RedisClusterNodesArgs {
  /** The cluster nodes from the topology plan, in creation order. */
  nodes: NodePlan[];
  imageId: pulumi.Input<string>;
  networkName: pulumi.Input<string>;
  password?: pulumi.Input<string>;
  retainDataVolumes?: boolean;
}

/** The N cluster-enabled redis-server containers; forming them into a cluster is `RedisClusterBootstrap`'s job. */
export class RedisClusterNodes extends pulumi.ComponentResource {
  readonly servers: RedisServer[];
  readonly containerNames: pulumi.Output<string[]>;

  constructor(name: string, args: RedisClusterNodesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-on-docker:index:RedisClusterNodes", name, {}, opts);
    this.servers = args.nodes.map(
      (node) =>
        new RedisServer(
          node.name,
          {
            node,
            imageId: args.imageId,
            networkName: args.networkName,
            password: args.password,
            retainDataVolume: args.retainDataVolumes,
          },
          { parent: this },
        ),
    );
    this.containerNames = pulumi.all(this.servers.map((s) => s.containerName));
    this.registerOutputs({ containerNames: this.containerNames });
  }
}
