/**
 * Builds the async (ioredis) client that a ConnectorConfig asks for.
 * The sync facade's worker calls this same function, so both forms behave alike.
 */
import Redis, { Cluster } from "ioredis";
import type { ConnectorConfig } from "../config/types";

/** The async client for a topology: ioredis's own types. */
export type AsyncClient = Redis | Cluster;

export function createAsyncClient(config: ConnectorConfig & { topology: "standalone" }): Redis;
export function createAsyncClient(config: ConnectorConfig & { topology: "cluster" }): Cluster;
export function createAsyncClient(config: ConnectorConfig): AsyncClient;
export function createAsyncClient(config: ConnectorConfig): AsyncClient {
  const perNode = {
    password: config.password === "" ? undefined : config.password,
    username: config.username === "" ? undefined : config.username,
    tls: config.tls ? {} : undefined,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: config.commandTimeoutMs,
    maxRetriesPerRequest: config.maxRetriesPerRequest,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, config.reconnectMaxDelayMs),
  };
  if (config.topology === "standalone") {
    return new Redis({
      ...perNode,
      host: config.standalone.host,
      port: config.standalone.port,
      db: config.standalone.db,
      keyPrefix: config.keyPrefix,
    });
  }
  return new Cluster(config.cluster.nodes, {
    // Nodes discovered through CLUSTER SLOTS get these options too: auth on every node.
    redisOptions: perNode,
    natMap: config.cluster.natMap,
    scaleReads: config.cluster.scaleReads,
    maxRedirections: config.cluster.maxRedirections,
    keyPrefix: config.keyPrefix,
    clusterRetryStrategy: (attempt: number) => Math.min(attempt * 100, config.reconnectMaxDelayMs),
  });
}
