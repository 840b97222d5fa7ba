import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { NetworkPlan } from "@redis-on-docker/topology";

export interface RedisNetworkArgs {
  /** Name, subnet, gateway and dynamic range from the topology plan. */
  plan: NetworkPlan;
}

/** The stack's bridge network with a user-defined subnet, so every node can have a static IP. */
export class RedisNetwork extends pulumi.ComponentResource {
  readonly network: docker.Network;
  /** Docker network name, for containers' `networksAdvanced`. */
  readonly networkName: pulumi.Output<string>;

  constructor(name: string, args: RedisNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-on-docker:index:RedisNetwork", name, {}, opts);
    this.network = new docker.Network(
      args.plan.name,
      {
        name: args.plan.name,
        driver: "bridge",
        // ipRange: Docker hands dynamic addresses (the bootstrap job's) out of the upper half only,
        // so a container started before a node can never take that node's static address.
        ipamConfigs: [{ subnet: args.plan.subnet, gateway: args.plan.gateway, ipRange: args.plan.ipRange }],
      },
      // The name is fixed, so a replacement must remove the old network first.
      { parent: this, deleteBeforeReplace: true },
    );
    this.networkName = this.network.name;
    this.registerOutputs({ networkName: this.networkName });
  }
}
