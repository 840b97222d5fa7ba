/**
 * Seed lists that mix cluster nodes and standalone servers. ioredis asks a random seed for
 * the slot map, so such a list connects in some runs and fails in others; asking every seed
 * first (`INFO cluster`, which Redis 5.0 has) makes it fail every time, naming the odd ones.
 */
import Redis, { type RedisOptions } from "ioredis";
import { formatEndpoint, type Endpoint } from "../endpoint";

/** Part of the message, so the connector's "cluster support disabled" handling (final, explained) applies. */
export const MIXED_SEEDS_TEXT = "cluster support disabled";

/** Whether the server at `endpoint` runs with cluster support; undefined when it could not be asked (unreachable, refused). */
async function clusterEnabled(endpoint: Endpoint, options: RedisOptions, timeoutMs: number): Promise<boolean | undefined> {
  const probe = new Redis({
    ...options,
    host: endpoint.host,
    port: endpoint.port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
  });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    const info = await probe.info("cluster");
    const match = /cluster_enabled:(\d)/.exec(info);
    return match === null ? undefined : match[1] === "1";
  } catch {
    return undefined;
  } finally {
    probe.disconnect();
  }
}

/**
 * Asks every seed whether it is a cluster node (each bounded by `timeoutMs`). Returns the
 * error to report when some seeds are standalone servers, naming them; undefined otherwise.
 */
export async function checkSeedsAreClusterNodes(seeds: readonly Endpoint[], options: RedisOptions, timeoutMs: number): Promise<Error | undefined> {
  const answers = await Promise.all(seeds.map((seed) => clusterEnabled(seed, options, timeoutMs)));
  const standalone = seeds.filter((_, i) => answers[i] === false);
  if (standalone.length === 0) return undefined;
  const clusterNodes = seeds.filter((_, i) => answers[i] === true);
  const odd = standalone.map(formatEndpoint).join(", ");
  const unlike = clusterNodes.length === 0 ? "" : ` unlike ${clusterNodes.map(formatEndpoint).join(", ")}`;
  return new Error(
    `ERR seed node(s) ${odd} of REDIS_CLUSTER_NODES have ${MIXED_SEEDS_TEXT} (standalone servers,${unlike === "" ? " as every seed" : unlike}); ` +
      "list only cluster nodes in REDIS_CLUSTER_NODES",
  );
}
