/**
 * Makes the local runner's cluster look like the Docker stack to a client on the host:
 * the nodes announce addresses the client cannot reach, so only the natMap gets it to them.
 *
 * In Docker, nodes announce container IPs and the host reaches them through published ports.
 * On one loopback host, `cluster-announce-ip` cannot do that (the cluster bus and replication
 * use the announced IP too, so the cluster itself would break). Redis 7's
 * `cluster-announce-hostname` + `cluster-preferred-endpoint-type hostname` change only what
 * clients are told (CLUSTER SLOTS, MOVED): every node is announced as 127.0.0.2:<port>, where
 * nothing listens (the nodes bind 127.0.0.1), while the bus keeps using 127.0.0.1.
 *
 * These two settings are Redis 7 test-harness set-up, never product behaviour: the connector
 * only sees announced addresses and a natMap, exactly as with Redis 5 in Docker.
 */
import type { Endpoint } from "@redis-on-docker/connector";
import { parseClusterNodes, waitFor, withNode } from "./clusterProbe";

/** Loopback address the nodes are announced at; nothing listens there. */
export const ANNOUNCED_HOST = "127.0.0.2";

/** Makes one node announce ANNOUNCED_HOST to clients. */
export async function announceUnreachable(port: number, password: string): Promise<void> {
  await withNode({ host: "127.0.0.1", port }, password, async (redis) => {
    await redis.config("SET", "cluster-announce-hostname", ANNOUNCED_HOST);
    await redis.config("SET", "cluster-preferred-endpoint-type", "hostname");
  });
}

/**
 * Announces every node at ANNOUNCED_HOST, waits (bounded) until every node tells clients
 * only such addresses, and returns the natMap a host client needs.
 *
 * A node that has just restarted announces no hostname until it is set again, and its peers
 * then tell clients `?:<port>` for it; the natMap maps that form too, so a client never tries
 * to resolve "?" (which would be a DNS query off this host).
 */
export async function announceAllUnreachable(ports: number[], password: string): Promise<Record<string, Endpoint>> {
  for (const port of ports) await announceUnreachable(port, password);
  await waitFor("every node announcing 127.0.0.2 to clients", 10_000, async () => {
    for (const port of ports) {
      const ok = await withNode({ host: "127.0.0.1", port }, password, async (redis) => {
        const slots = (await redis.call("CLUSTER", "SLOTS")) as Array<[number, number, ...Array<[string, number, ...unknown[]]>]>;
        const hosts = slots.flatMap(([, , ...nodes]) => nodes.map((n) => n[0]));
        const known = parseClusterNodes(String(await redis.call("CLUSTER", "NODES"))).length;
        return known === ports.length && hosts.length === ports.length && hosts.every((h) => h === ANNOUNCED_HOST);
      });
      if (!ok) return undefined;
    }
    return true;
  });
  const natMap: Record<string, Endpoint> = {};
  for (const port of ports) {
    natMap[`${ANNOUNCED_HOST}:${port}`] = { host: "127.0.0.1", port };
    natMap[`?:${port}`] = { host: "127.0.0.1", port };
  }
  return natMap;
}
