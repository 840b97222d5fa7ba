/**
 * The client part of the bench: the connector's async clients next to raw ioredis built
 * with the same options, the sync facade next to the async form, redis-benchmark as the
 * server's ceiling, and the sync client's cost in fresh processes.
 */
import Redis, { Cluster } from "ioredis";
import {
  createClient,
  createSyncClient,
  loadConfig,
  waitUntilReady,
  type StackOutputs,
  type SyncRedisClient,
  type Topology,
} from "@redis-on-docker/connector";
import { fastLaneCalls } from "@redis-on-docker/connector/dist/testing";
import {
  asyncPipeline,
  concurrentOnFreshClient,
  redisBenchmark,
  sequentialGet,
  sequentialSet,
  type CeilingTarget,
} from "./asyncContenders";
import type { RoundsOptions } from "./measure";
import type { Results } from "./results";
import { probeSyncClient } from "./syncClientCost";
import { syncGet, syncPipeline, syncSet } from "./syncContenders";
import { KEYS, keyAt, mastersCovered, pipelineKeyGroups, populate, PIPELINE_SIZE, VALUE } from "./workload";

const PROBE_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 10_000;

/** The connector's async client and raw ioredis with the same options, plus makers of fresh ones. */
interface AsyncClients {
  connector: Redis | Cluster;
  raw: Redis | Cluster;
  /** A new connector client (same config), for measurements that want their own connection. */
  openConnector(): Redis | Cluster;
  /** A new raw ioredis client with the connector client's resolved options. */
  openRaw(): Redis | Cluster;
}

/**
 * Opens the connector's async client for `topology` and a raw ioredis client built with
 * the connector client's resolved options, so a ratio shows what the connector adds per
 * call, not a difference in settings. Every client, also the ones the makers open later,
 * is handed to `onOpen` at once, so it is closed whatever happens next.
 */
async function openAsyncClients(
  outputs: StackOutputs,
  topology: Topology,
  onOpen: (client: Redis | Cluster) => void,
): Promise<AsyncClients> {
  const config = loadConfig({ outputs, env: {}, overrides: { topology, form: "async" } });
  const openConnector = (): Redis | Cluster => {
    const client = createClient(config) as Redis | Cluster;
    onOpen(client);
    return client;
  };
  const connector = openConnector();
  // lazyConnect: the connector's cluster client holds its connect back for its seed check
  // (client/seedCheck.ts) and then connects itself; a raw client given it would never connect.
  const options = { ...connector.options, lazyConnect: false };
  const openRaw = (): Redis | Cluster => {
    const client = connector instanceof Cluster ? new Cluster(config.cluster.nodes, options) : new Redis(options);
    // Connection errors reach the bench as rejected commands; this keeps ioredis from printing them.
    client.on("error", () => undefined);
    onOpen(client);
    return client;
  };
  const raw = openRaw();
  await Promise.all([connector, raw].map((client) => waitUntilReady(client, READY_TIMEOUT_MS)));
  return { connector, raw, openConnector, openRaw };
}

function openSyncClient(outputs: StackOutputs, topology: Topology): SyncRedisClient {
  return createClient(loadConfig({ outputs, env: {}, overrides: { topology, form: "sync" } }));
}

/** The sync client with its fast lane off: every call through the worker thread (the fallback). */
function openWorkerPathClient(outputs: StackOutputs, topology: Topology): SyncRedisClient {
  return createSyncClient(loadConfig({ outputs, env: {}, overrides: { topology, form: "sync" } }), { fastLane: false });
}

/** One sanity round trip per client before timing, so a broken client fails loudly. */
async function verifyAsync(name: string, client: Redis | Cluster): Promise<void> {
  const key = keyAt(0);
  if ((await client.set(key, VALUE)) !== "OK" || (await client.get(key)) !== VALUE) {
    throw new Error(`${name}: SET/GET round trip returned something else than OK / ${VALUE}`);
  }
}

function verifySync(name: string, client: SyncRedisClient): void {
  const key = keyAt(0);
  if (client.set(key, VALUE) !== "OK" || client.get(key) !== VALUE) {
    throw new Error(`${name}: SET/GET round trip returned something else than OK / ${VALUE}`);
  }
}

/** How `benchClients` runs (from the bench profile). */
export interface ClientBenchOptions {
  clients: RoundsOptions;
  ceiling: RoundsOptions;
  probeRepetitions: number;
  log: (line: string) => void;
}

/**
 * Opens every client on the stack, runs the client groups (connector vs raw ioredis, noise
 * gauge, redis-benchmark ceiling, sync vs async) and the sync client's cost probes, and
 * closes every client again, whatever fails.
 */
export async function benchClients(results: Results, outputs: StackOutputs, options: ClientBenchOptions): Promise<void> {
  const closers: Array<() => void> = [];
  try {
    const onOpen = (client: Redis | Cluster): void => {
      closers.push(() => client.disconnect());
    };
    const standalone = await openAsyncClients(outputs, "standalone", onOpen);
    const cluster = await openAsyncClients(outputs, "cluster", onOpen);
    const clusterRaw = cluster.raw as Cluster;
    for (const [name, client] of [
      ["connector standalone", standalone.connector],
      ["ioredis standalone", standalone.raw],
      ["connector cluster", cluster.connector],
      ["ioredis cluster", cluster.raw],
    ] as const) {
      await verifyAsync(name, client);
    }
    await populate(standalone.raw);
    await populate(clusterRaw);
    results.notes.clusterKeys = await mastersCovered(clusterRaw);
    const clusterGroups = await pipelineKeyGroups(clusterRaw);
    results.notes.clientOptions = {
      commandTimeout: (standalone.connector as Redis).options.commandTimeout,
      enableAutoPipelining: (standalone.connector as Redis).options.enableAutoPipelining ?? false,
      keys: KEYS.length,
      pipelineSize: PIPELINE_SIZE,
      value: VALUE,
    };

    const ceiling: CeilingTarget = { host: outputs.standalone.host, port: outputs.standalone.port, password: outputs.password };
    await results.group("async standalone", [
      [sequentialGet("standalone.raw.seqGet", standalone.raw), sequentialGet("standalone.connector.seqGet", standalone.connector)],
      [sequentialSet("standalone.raw.seqSet", standalone.raw), sequentialSet("standalone.connector.seqSet", standalone.connector)],
      [
        concurrentOnFreshClient("standalone.raw.conc50Get", standalone.openRaw, "get"),
        concurrentOnFreshClient("standalone.connector.conc50Get", standalone.openConnector, "get"),
      ],
      [
        concurrentOnFreshClient("control.raw.conc50Get", standalone.openRaw, "get"),
        concurrentOnFreshClient("control.raw2.conc50Get", standalone.openRaw, "get"),
      ],
    ], options.clients);

    await results.group("async cluster", [
      [sequentialGet("cluster.raw.seqGet", cluster.raw), sequentialGet("cluster.connector.seqGet", cluster.connector)],
      [sequentialSet("cluster.raw.seqSet", cluster.raw), sequentialSet("cluster.connector.seqSet", cluster.connector)],
      [
        concurrentOnFreshClient("cluster.raw.conc50Get", cluster.openRaw, "get"),
        concurrentOnFreshClient("cluster.connector.conc50Get", cluster.openConnector, "get"),
      ],
    ], options.clients);

    await results.group("server ceiling (redis-benchmark)", [
      [sequentialGet("ceiling.connector.seqGet", standalone.connector), redisBenchmark("ceiling.c1.get", ceiling, 1, "get")],
      [sequentialSet("ceiling.connector.seqSet", standalone.connector), redisBenchmark("ceiling.c1.set", ceiling, 1, "set")],
      [concurrentOnFreshClient("ceiling.connector.conc50Get", standalone.openConnector, "get"), redisBenchmark("ceiling.c50.get", ceiling, 50, "get")],
      [concurrentOnFreshClient("ceiling.connector.conc50Set", standalone.openConnector, "set"), redisBenchmark("ceiling.c50.set", ceiling, 50, "set")],
    ], options.ceiling);

    try {
      const syncStandalone = openSyncClient(outputs, "standalone");
      closers.push(() => syncStandalone.close());
      const syncCluster = openSyncClient(outputs, "cluster");
      closers.push(() => syncCluster.close());
      const workerStandalone = openWorkerPathClient(outputs, "standalone");
      closers.push(() => workerStandalone.close());
      const workerCluster = openWorkerPathClient(outputs, "cluster");
      closers.push(() => workerCluster.close());
      verifySync("sync standalone", syncStandalone);
      verifySync("sync cluster", syncCluster);
      verifySync("sync standalone, worker path", workerStandalone);
      verifySync("sync cluster, worker path", workerCluster);
      const standaloneBatch = (step: number): string[] =>
        Array.from({ length: PIPELINE_SIZE / 2 }, (_, j) => keyAt(step * (PIPELINE_SIZE / 2) + j));
      const clusterBatch = (step: number): string[] => clusterGroups[step % clusterGroups.length];
      await results.group("sync vs async", [
        [syncGet("sync.standalone.sync.seqGet", syncStandalone), sequentialGet("sync.standalone.async.seqGet", standalone.connector)],
        [syncSet("sync.standalone.sync.seqSet", syncStandalone), sequentialSet("sync.standalone.async.seqSet", standalone.connector)],
        [
          syncPipeline("sync.standalone.sync.pipeline", syncStandalone, standaloneBatch),
          asyncPipeline("sync.standalone.async.pipeline", standalone.connector, standaloneBatch),
        ],
        [syncGet("sync.cluster.sync.seqGet", syncCluster), sequentialGet("sync.cluster.async.seqGet", cluster.connector)],
        [syncSet("sync.cluster.sync.seqSet", syncCluster), sequentialSet("sync.cluster.async.seqSet", cluster.connector)],
        [
          syncPipeline("sync.cluster.sync.pipeline", syncCluster, clusterBatch),
          asyncPipeline("sync.cluster.async.pipeline", cluster.connector, clusterBatch),
        ],
      ], options.clients);
      await results.group("sync worker path vs async", [
        [syncGet("syncWorker.standalone.sync.seqGet", workerStandalone), sequentialGet("syncWorker.standalone.async.seqGet", standalone.connector)],
        [syncSet("syncWorker.standalone.sync.seqSet", workerStandalone), sequentialSet("syncWorker.standalone.async.seqSet", standalone.connector)],
        [
          syncPipeline("syncWorker.standalone.sync.pipeline", workerStandalone, standaloneBatch),
          asyncPipeline("syncWorker.standalone.async.pipeline", standalone.connector, standaloneBatch),
        ],
        [syncGet("syncWorker.cluster.sync.seqGet", workerCluster), sequentialGet("syncWorker.cluster.async.seqGet", cluster.connector)],
        [syncSet("syncWorker.cluster.sync.seqSet", workerCluster), sequentialSet("syncWorker.cluster.async.seqSet", cluster.connector)],
        [
          syncPipeline("syncWorker.cluster.sync.pipeline", workerCluster, clusterBatch),
          asyncPipeline("syncWorker.cluster.async.pipeline", cluster.connector, clusterBatch),
        ],
      ], options.clients);
      results.notes.syncFastLaneCalls = {
        standalone: fastLaneCalls(syncStandalone),
        cluster: fastLaneCalls(syncCluster),
        workerPathStandalone: fastLaneCalls(workerStandalone),
        workerPathCluster: fastLaneCalls(workerCluster),
      };
    } catch (error) {
      results.fail("sync clients", error);
    }

    options.log(`sync client cost: ${options.probeRepetitions} fresh process(es) per topology`);
    for (let rep = 0; rep < options.probeRepetitions; rep++) {
      for (const topology of ["standalone", "cluster"] as const) {
        try {
          const probe = await probeSyncClient(outputs, topology, PROBE_TIMEOUT_MS);
          results.addValue(`syncClient.${topology}.rssAddedMb`, (probe.rssAfterFirstReplyBytes - probe.rssBeforeBytes) / 2 ** 20);
          results.addValue(`syncClient.${topology}.rssAdded1000CallsMb`, (probe.rssAfter1000CallsBytes - probe.rssBeforeBytes) / 2 ** 20);
          results.addValue(`syncClient.${topology}.firstReplyMs`, probe.firstReplyMs);
          results.addValue(`syncClient.${topology}.createMs`, probe.createMs);
        } catch (error) {
          results.fail(`sync client probe (${topology})`, error);
        }
      }
    }
  } finally {
    for (const close of closers.reverse()) {
      try {
        close();
      } catch (error) {
        results.fail("closing a client", error);
      }
    }
  }
}
