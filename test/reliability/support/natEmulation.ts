/**
 * Makes the local runner's cluster look like the Docker stack to a client on the host: the
 * client reaches every node only through a TCP forwarder (as through Docker's published
 * ports), gets the forwarders as seeds, and a natMap from each node's announced address
 * (`127.0.0.1:<node port>`) to its forwarder. Nothing on the nodes changes, so this works on
 * every supported Redis (5.0.4 has no `cluster-announce-hostname`).
 *
 * The announced addresses are reachable here, so "the client used the natMap" is checked the
 * way test/connector/natMap.test.ts does: every client connection a node lists came through a
 * forwarder (`directClientConnections`). The forwarders run in their own process, so a
 * blocked or busy test process cannot stall the traffic.
 */
import Redis from "ioredis";
import type { Endpoint, StackOutputs } from "@redis-on-docker/connector";
import { ForwarderGroup } from "../../connector/support/forwarder";

const ADMIN_NAME = "nat-emulation-admin";

export class NatEmulation {
  private constructor(private readonly forwarders: ForwarderGroup) {}

  /** Starts one forwarder per node port (bounded). */
  static async start(nodePorts: number[]): Promise<NatEmulation> {
    return new NatEmulation(await ForwarderGroup.start(nodePorts));
  }

  /** The outputs document as the Docker stack gives it to a host: forwarders as seeds, plus the natMap. */
  outputs(base: StackOutputs): StackOutputs {
    const { targets, ports } = this.forwarders;
    const natMap: Record<string, Endpoint> = {};
    targets.forEach((target, i) => {
      natMap[`127.0.0.1:${target}`] = { host: "127.0.0.1", port: ports[i] };
    });
    const seeds = ports.map((port) => ({ host: "127.0.0.1", port }));
    return { ...base, cluster: { ...base.cluster, seeds, natMap } };
  }

  /** How many forwarders have carried at least one connection. */
  async forwardersUsed(): Promise<number> {
    return (await this.forwarders.stats()).accepted.filter((n) => n > 0).length;
  }

  /**
   * Client connections on the nodes that did not come through a forwarder (replication links
   * and this check's own connection left out), as `node <port> <- <addr> (name)`.
   */
  async directClientConnections(password: string): Promise<string[]> {
    const forwarded = new Set((await this.forwarders.stats()).outgoingPorts.flat());
    const direct: string[] = [];
    for (const port of this.forwarders.targets) {
      const admin = new Redis({ host: "127.0.0.1", port, password, connectionName: ADMIN_NAME, lazyConnect: true, commandTimeout: 3000, retryStrategy: () => null });
      admin.on("error", () => undefined);
      try {
        await admin.connect();
        const list = String(await admin.call("CLIENT", "LIST"));
        for (const line of list.trim().split("\n")) {
          const fields = Object.fromEntries(line.split(" ").map((kv) => kv.split("=", 2) as [string, string]));
          if (fields.name === ADMIN_NAME || fields.flags.includes("S") || fields.flags.includes("M")) continue;
          const clientPort = Number(fields.addr.split(":").pop());
          if (!forwarded.has(clientPort)) direct.push(`node ${port} <- ${fields.addr}${fields.name ? ` (${fields.name})` : ""}`);
        }
      } catch {
        // A node that is down lists nothing.
      } finally {
        admin.disconnect();
      }
    }
    return direct;
  }

  /** Ends the forwarders (and every connection through them); bounded. */
  stop(): Promise<void> {
    return this.forwarders.stop();
  }
}
