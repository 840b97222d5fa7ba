/**
 * Builds the async (ioredis) client that a ConnectorConfig asks for. Plain data in, the
 * ioredis instance itself out (no wrapper; per command only its error path is hooked, see
 * commandErrors.ts). The sync facade's worker calls this same function, so both forms
 * behave alike.
 */
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from "ioredis";
import { targetSources } from "../config/provenance";
import type { ConnectorConfig } from "../config/types";
import { formatEndpoint, natMappedHostKey, type Endpoint } from "../endpoint";
import { abortedByConnectionClose, translateCommandErrors } from "./commandErrors";
import { abortUnfulfilledOnClose } from "./ioredisInternals";
import { USERNAME_WITHOUT_ACL, isAuthFailure, isClusterSupportDisabled, isSelectRefusal } from "./connectionErrors";
import { learnSlotOwnersFromPipelines } from "./pipelineRedirects";
import { hideClientSecrets, scrubError } from "./secrets";
import { checkSeedsAreClusterNodes } from "./seedCheck";

/** How long the seed check may hold back connecting; past it the cluster connects and a late verdict still ends it. */
const SEED_CHECK_HOLD_MS = 1000;

/** The async client for a topology: ioredis's own types. */
export type AsyncClient = Redis | Cluster;

/** Delay before reconnect attempt `attempt` (1-based): doubling from 50 ms, capped. */
export function reconnectDelayMs(attempt: number, maxDelayMs: number): number {
  return Math.min(50 * 2 ** Math.min(attempt - 1, 16), maxDelayMs);
}

/** Connection options every node gets (the standalone server, and each discovered cluster node). */
function nodeOptions(config: ConnectorConfig): RedisOptions {
  return {
    password: config.password === "" ? undefined : config.password,
    // Only sent when set: Redis 5 has no ACL users (see `assertUsernameSupported`).
    username: config.username === "" ? undefined : config.username,
    tls: config.tls ? {} : undefined,
    connectTimeout: config.connectTimeoutMs,
    // Applies to queued commands too (ioredis arms it before the offline queue), so no command waits longer.
    commandTimeout: config.commandTimeoutMs,
    maxRetriesPerRequest: config.maxRetriesPerRequest,
    // CLIENT SETINFO exists only since Redis 7.2: older servers (5.0.4 is the target) answer every connection with an error.
    disableClientInfo: true,
    // At most once: a command written before the connection dropped may have run; ioredis
    // would send it again after the reconnect. It fails instead (abortUnfulfilledOnClose).
    autoResendUnfulfilledCommands: false,
  };
}

export function createAsyncClient(config: ConnectorConfig & { topology: "standalone" }): Redis;
export function createAsyncClient(config: ConnectorConfig & { topology: "cluster" }): Cluster;
export function createAsyncClient(config: ConnectorConfig): AsyncClient;
export function createAsyncClient(config: ConnectorConfig): AsyncClient {
  const client = config.topology === "standalone" ? createStandalone(config) : createCluster(config);
  targets.set(client, describeTarget(config));
  recordConnectionErrors(client, config);
  translateCommandErrors(client, config.commandTimeoutMs, config.topology === "standalone");
  return hideClientSecrets(client);
}

/** What a connector-built client connects to, for messages and diagnosis. */
export interface ClientTarget {
  /** e.g. `redis at 127.0.0.1:6379`, `redis cluster (seed nodes 127.0.0.1:7000, ...)`. */
  description: string;
  endpoints: Endpoint[];
  tls: boolean;
}

const targets = new WeakMap<AsyncClient, ClientTarget>();
const lastErrors = new WeakMap<AsyncClient, Error>();

function describeTarget(config: ConnectorConfig): ClientTarget {
  if (config.topology === "standalone") {
    return { description: `redis at ${formatEndpoint(config.standalone)}${targetSources(config)}`, endpoints: [config.standalone], tls: config.tls };
  }
  const seeds = config.cluster.nodes;
  return { description: `redis cluster (seed nodes ${seeds.map(formatEndpoint).join(", ")})${targetSources(config)}`, endpoints: seeds, tls: config.tls };
}

/** The target of a connector-built client (undefined for other clients). */
export function clientTarget(client: AsyncClient): ClientTarget | undefined {
  return targets.get(client);
}

/**
 * The last connection error a connector-built client reported (`error` / `node error`
 * events), for messages such as `waitUntilReady`'s. Listening also keeps ioredis from
 * printing "Unhandled error event" lines: the errors still reach callers as rejected commands.
 */
export function lastConnectionError(client: AsyncClient): Error | undefined {
  return lastErrors.get(client);
}

/**
 * Registered first, so it runs before the app's listeners and before a rejected command
 * reaches the app (ioredis rejects them with the same error object, in a later microtask):
 * scrubs the password from the error; keeps an AUTH refusal as the last error (the NOAUTH
 * that the next command then gets says less); ends a standalone client whose REDIS_DB the
 * server refused, before `ready`, so no command runs in database 0 instead.
 */
function recordConnectionErrors(client: AsyncClient, config: ConnectorConfig): void {
  const secrets = config.password === "" ? [] : [config.password];
  const record = (error: Error): void => {
    if (!(error instanceof Error)) return;
    scrubError(error, secrets);
    if (config.username !== "" && /NOAUTH/.test(error.message) && !error.message.includes(USERNAME_WITHOUT_ACL)) {
      // AUTH <user> <password> was sent and the server still wants AUTH: Redis < 6 refused it
      // as a wrong number of arguments, which ioredis only logs (cluster nodes show this).
      error.message = `${USERNAME_WITHOUT_ACL} (the server then answered: ${error.message})`;
    }
    const previous = lastErrors.get(client);
    const keepRefusal = previous !== undefined && isAuthFailure(previous) && !/NOAUTH/.test(previous.message) && /NOAUTH/.test(error.message);
    if (!keepRefusal) lastErrors.set(client, error);
    if (client instanceof Redis && isSelectRefusal(error)) client.disconnect();
  };
  client.on("error", record);
  client.on("node error", record);
}

function createStandalone(config: ConnectorConfig): Redis {
  const client = new Redis({
    ...nodeOptions(config),
    host: config.standalone.host,
    port: config.standalone.port,
    db: config.standalone.db,
    keyPrefix: config.keyPrefix === "" ? undefined : config.keyPrefix,
    enableOfflineQueue: true,
    retryStrategy: (attempt: number) => reconnectDelayMs(attempt, config.reconnectMaxDelayMs),
  });
  // Cluster nodes need no hook: their connections do not reconnect, ioredis fails what they held.
  abortUnfulfilledOnClose(client, abortedByConnectionClose);
  return client;
}

function createCluster(config: ConnectorConfig): Cluster {
  // Until the cluster has been ready once, a bounded start: unreachable seeds end the client
  // (`waitUntilReady` / `connect` report why). After that it never gives up: an outage of
  // every node (a host or Docker restart) must not kill a long-lived client.
  let everReady = false;
  // A seed without cluster support stays so: no retry (set by the first such answer before ready).
  let notACluster = false;
  const createdAt = Date.now();
  const giveUpAfterMs = Math.max(config.connectTimeoutMs, config.commandTimeoutMs);
  const options: ClusterOptions = {
    // Nodes discovered through CLUSTER SLOTS get these options too: auth and TLS on every node.
    // No retryStrategy here: ioredis drops a lost node and refreshes the slot map instead.
    redisOptions: nodeOptions(config),
    natMap: Object.keys(config.cluster.natMap).length === 0 ? undefined : config.cluster.natMap,
    scaleReads: config.cluster.scaleReads,
    maxRedirections: config.cluster.maxRedirections,
    keyPrefix: config.keyPrefix === "" ? undefined : config.keyPrefix,
    enableOfflineQueue: true,
    enableReadyCheck: true,
    // Connecting starts after the seed check below (or a command sent meanwhile starts it).
    lazyConnect: true,
    // During a failover the slot owner is briefly unknown/CLUSTERDOWN: retry soon, within the redirection budget.
    // Not on a closed connection, though: ioredis re-sends a pipeline then and re-arms each command's
    // timeout, so a pipeline could outlive commandTimeoutMs (seen: 1.8-3 s with 1 s). Such calls fail at
    // once instead; slot refreshes (CLUSTERDOWN, MOVED, the periodic one) still find the promoted
    // replica as fast (test/reliability/failover.test.ts).
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    retryDelayOnMoved: 0,
    slotsRefreshTimeout: Math.min(config.connectTimeoutMs, 2000),
    // Off: refreshSlotsPeriodically (below) does it, and stops when the client ends.
    slotsRefreshInterval: 0,
    clusterRetryStrategy: (attempt: number) => {
      if (!everReady && (notACluster || Date.now() - createdAt >= giveUpAfterMs)) return null;
      return reconnectDelayMs(attempt, config.reconnectMaxDelayMs);
    },
  };
  const cluster = new Cluster(config.cluster.nodes.map((n) => ({ host: n.host, port: n.port })), options);
  refreshSlotsPeriodically(cluster);
  learnSlotOwnersFromPipelines(cluster, natMappedHostKey(config.cluster.natMap));
  // ioredis's Cluster has no per-command timer for commands queued while no node is
  // reachable. So the offline queue is on only while the cluster is (re)starting for the
  // first time; once every node is lost, calls fail at once instead of waiting unbounded,
  // and the client keeps reconnecting in the background.
  cluster.on("ready", () => {
    everReady = true;
    cluster.options.enableOfflineQueue = true;
  });
  cluster.on("close", () => {
    if (everReady) cluster.options.enableOfflineQueue = false;
  });
  const checkSupport = (error: Error): void => {
    if (!everReady && error instanceof Error && isClusterSupportDisabled(error)) notACluster = true;
  };
  cluster.on("node error", checkSupport);
  cluster.on("error", checkSupport);
  startAfterSeedCheck(cluster, config);
  return cluster;
}

/** How often a ready cluster client re-reads the slot map on its own (ioredis's default). */
const SLOTS_REFRESH_INTERVAL_MS = 5000;

/**
 * The periodic slot refresh, in place of ioredis's `slotsRefreshInterval`. ioredis arms its next
 * round from the refresh's callback, so a refresh in flight at `disconnect()`/`quit()` arms it
 * again on the ended client, every 5 s for ever, and the app's process never exits (seen: mocha
 * alive after the whole suite, holding only those two timers). This one re-arms only while the
 * client is ready, stops when it ends, and never keeps a process alive by itself.
 */
function refreshSlotsPeriodically(cluster: Cluster): void {
  let scheduled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (scheduled || cluster.status !== "ready") return;
    scheduled = true;
    timer = setTimeout(() => {
      cluster.refreshSlotsCache(() => {
        scheduled = false;
        arm();
      });
    }, SLOTS_REFRESH_INTERVAL_MS).unref();
  };
  cluster.on("ready", arm);
  cluster.on("end", () => {
    clearTimeout(timer);
    scheduled = false;
  });
}

/**
 * Asks every seed whether it is a cluster node, then connects; a seed list with standalone
 * servers in it ends the client with an error naming them, whichever seed ioredis would have
 * asked first. Bounded: connecting waits at most SEED_CHECK_HOLD_MS for the verdict.
 */
function startAfterSeedCheck(cluster: Cluster, config: ConnectorConfig): void {
  const connect = (): void => {
    if (cluster.status === "wait") cluster.connect().catch(() => undefined);
  };
  const hold = setTimeout(connect, Math.min(SEED_CHECK_HOLD_MS, config.connectTimeoutMs));
  checkSeedsAreClusterNodes(config.cluster.nodes, nodeOptions(config), config.connectTimeoutMs).then((error) => {
    clearTimeout(hold);
    if (error === undefined) {
      connect();
      return;
    }
    if (cluster.status === "end") return;
    cluster.emit("error", error);
    cluster.disconnect();
    // A lazy client that never connected emits no "end" of its own: waits on it must see one.
    if ((cluster.status as string) !== "end") cluster.emit("end");
  }, connect);
}
