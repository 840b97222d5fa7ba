/**
 * `npm run bench [-- --quick] [-- --out FILE]`: measures every client mode and the local
 * runner side by side, in one run, on servers it starts itself, and prints ratios against
 * the targets of issue 6 (informational). Exits non-zero only when a contender failed or
 * produced no number. See BENCHMARKS.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Redis, { Cluster } from "ioredis";
import {
  createClient,
  loadConfig,
  waitUntilReady,
  type StackOutputs,
  type SyncRedisClient,
  type Topology,
} from "@redis-on-docker/connector";
import { startLocalStack, type LocalStack } from "../infra/local/runner";
import {
  asyncPipeline,
  concurrentGet,
  concurrentSet,
  redisBenchmark,
  sequentialGet,
  sequentialSet,
  type CeilingTarget,
} from "./asyncContenders";
import { runInterleaved, type Contender } from "./measure";
import { killRedisBenchmarks } from "./redisBenchmark";
import { checkRatio, checkValue, formatTable, type ResultRow, type Target } from "./report";
import { isFigure, median, nowMs } from "./stats";
import { killSyncClientProbes, probeSyncClient } from "./syncClientCost";
import { syncGet, syncPipeline, syncSet } from "./syncContenders";
import { KEYS, keyAt, mastersCovered, pipelineKeyGroups, populate, PIPELINE_SIZE, VALUE } from "./workload";

/** How one group of matchups is run (see `runInterleaved`). */
interface Rounds {
  /** Each contender's figure is the median over rounds, each ratio the median of per-round ratios. */
  rounds: number;
  /** Time each contender runs per round. */
  budgetMs: number;
  /** Untimed run of each contender first. */
  warmupMs: number;
}

interface Profile {
  name: "quick" | "full";
  /**
   * Node clients: many short rounds, so that the two sides of a ratio run within tens of
   * ms of each other and a burst of load from elsewhere hits one pair, not the median.
   */
  clients: Rounds;
  /** redis-benchmark is a process per run, so its matchups get fewer, longer rounds. */
  ceiling: Rounds;
  /** Start/stop cycles of the local runner (the bench's own stack is one of them). */
  runnerCycles: number;
  /** Fresh child processes per topology for the sync client's cost. */
  probeRepetitions: number;
  /** Hard bound on the whole run; past it the bench stops everything and fails. */
  deadlineMs: number;
}

const PROFILES: Record<Profile["name"], Profile> = {
  quick: {
    name: "quick",
    clients: { rounds: 15, budgetMs: 30, warmupMs: 100 },
    ceiling: { rounds: 3, budgetMs: 100, warmupMs: 50 },
    runnerCycles: 1,
    probeRepetitions: 1,
    deadlineMs: 90_000,
  },
  full: {
    name: "full",
    clients: { rounds: 61, budgetMs: 40, warmupMs: 300 },
    ceiling: { rounds: 9, budgetMs: 250, warmupMs: 200 },
    runnerCycles: 3,
    probeRepetitions: 3,
    deadlineMs: 175_000,
  },
};

/** Issue 6's targets. Shown as PASS/MISS; they never fail the run. */
const TARGETS = {
  connectorVsRaw: { min: 0.97 },
  syncSequential: { min: 0.6, aim: 0.8 },
  syncPipeline: { min: 0.8 },
  clusterReadyMs: { max: 3000 },
  teardownMs: { max: 1000 },
  syncClientRssMb: { max: 40 },
  firstSyncReplyMs: { max: 200 },
} satisfies Record<string, Target>;

const PROBE_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 10_000;

const benchStart = nowMs();
function log(line: string): void {
  process.stderr.write(`[bench ${((nowMs() - benchStart) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
}

function parseArgs(argv: readonly string[]): { profile: Profile; outFile: string } {
  let profile = PROFILES.full;
  let outFile = path.join(__dirname, "results", "latest.json");
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") profile = PROFILES.quick;
    else if (arg === "--out" && argv[i + 1] !== undefined) outFile = path.resolve(argv[++i]);
    else if (arg === "--help" || arg === "-h") {
      process.stdout.write("usage: npm run bench [-- --quick] [-- --out FILE]   (see BENCHMARKS.md)\n");
      process.exit(0);
    } else {
      process.stderr.write(`bench: unknown argument ${JSON.stringify(arg)}; usage: npm run bench [-- --quick] [-- --out FILE]\n`);
      process.exit(2);
    }
  }
  return { profile, outFile };
}

/** Everything measured, and what went wrong. */
class Results {
  readonly samples = new Map<string, number[]>();
  readonly values = new Map<string, number[]>();
  readonly failures: string[] = [];
  readonly rows: ResultRow[] = [];
  readonly notes: Record<string, unknown> = {};

  async group(name: string, matchups: readonly (readonly Contender[])[], rounds: Rounds): Promise<void> {
    log(`${name}: ${matchups.flat().length} contenders x ${rounds.rounds} rounds of ${rounds.budgetMs} ms`);
    try {
      const samples = await runInterleaved(matchups, rounds);
      for (const [id, s] of samples) this.samples.set(id, s);
    } catch (error) {
      this.fail(name, error);
    }
  }

  fail(what: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.failures.push(`${what}: ${message}`);
    log(`FAILED ${what}: ${message}`);
  }

  addValue(id: string, value: number): void {
    const list = this.values.get(id) ?? [];
    list.push(value);
    this.values.set(id, list);
  }

  ratio(section: string, label: string, num: [string, string], den: [string, string], target?: Target): void {
    const a = this.samples.get(num[0]) ?? [];
    const b = this.samples.get(den[0]) ?? [];
    const rounds = Math.min(a.length, b.length);
    const figuresOk = rounds > 0 && a.every(isFigure) && b.every(isFigure);
    const roundRatios = Array.from({ length: rounds }, (_, i) => a[i] / b[i]);
    const ratio = median(roundRatios);
    this.rows.push({
      kind: "ratio",
      section,
      label,
      numerator: { id: num[0], name: num[1], opsPerSec: median(a) },
      denominator: { id: den[0], name: den[1], opsPerSec: median(b) },
      ratio,
      roundRatios: roundRatios.map((x) => Number(x.toFixed(3))),
      ...(target && { target }),
      check: checkRatio(ratio, figuresOk, target),
    });
  }

  value(section: string, label: string, id: string, unit: "ms" | "MB", target?: Target): void {
    const samples = this.values.get(id) ?? [];
    const value = median(samples);
    this.rows.push({ kind: "value", section, label, value, unit, samples, ...(target && { target }), check: checkValue(value, target) });
  }
}

/** The connector's async client and raw ioredis built with exactly the same options. */
interface AsyncPair {
  connector: Redis | Cluster;
  raw: Redis | Cluster;
}

/**
 * Opens the connector's async client for `topology` and raw ioredis clients built with the
 * connector client's resolved options (so a ratio shows what the connector adds per call,
 * not a difference in settings): `raw`, and `control`, a second one for the noise gauge.
 * Every client is handed to `onOpen` at once, so it is closed whatever happens next.
 */
async function openAsyncClients(
  outputs: StackOutputs,
  topology: Topology,
  onOpen: (client: Redis | Cluster) => void,
): Promise<AsyncPair & { control: Redis | Cluster }> {
  const config = loadConfig({ outputs, env: {}, overrides: { topology, form: "async" } });
  const connector = createClient(config) as Redis | Cluster;
  onOpen(connector);
  const newRaw = (): Redis | Cluster => {
    const client =
      connector instanceof Cluster
        ? new Cluster(config.cluster.nodes, { ...connector.options })
        : new Redis({ ...(connector as Redis).options });
    // Connection errors reach the bench as rejected commands; this keeps ioredis from printing them.
    client.on("error", () => undefined);
    onOpen(client);
    return client;
  };
  const raw = newRaw();
  const control = newRaw();
  await Promise.all([connector, raw, control].map((client) => waitUntilReady(client, READY_TIMEOUT_MS)));
  return { connector, raw, control };
}

function openSyncClient(outputs: StackOutputs, topology: Topology): SyncRedisClient {
  return createClient(loadConfig({ outputs, env: {}, overrides: { topology, form: "sync" } }));
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

async function measureRunnerCycle(results: Results): Promise<void> {
  const start = nowMs();
  const stack = await startLocalStack();
  results.addValue("runner.readyMs", nowMs() - start);
  const stopStart = nowMs();
  await stack.stop();
  results.addValue("runner.teardownMs", nowMs() - stopStart);
}

async function benchClients(results: Results, stack: LocalStack, profile: Profile): Promise<void> {
  const outputs = stack.outputs;
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
      [concurrentGet("standalone.raw.conc50Get", standalone.raw), concurrentGet("standalone.connector.conc50Get", standalone.connector)],
      [concurrentGet("control.raw.conc50Get", standalone.raw), concurrentGet("control.raw2.conc50Get", standalone.control)],
    ], profile.clients);

    await results.group("async cluster", [
      [sequentialGet("cluster.raw.seqGet", cluster.raw), sequentialGet("cluster.connector.seqGet", cluster.connector)],
      [sequentialSet("cluster.raw.seqSet", cluster.raw), sequentialSet("cluster.connector.seqSet", cluster.connector)],
      [concurrentGet("cluster.raw.conc50Get", cluster.raw), concurrentGet("cluster.connector.conc50Get", cluster.connector)],
    ], profile.clients);

    await results.group("server ceiling (redis-benchmark)", [
      [sequentialGet("ceiling.connector.seqGet", standalone.connector), redisBenchmark("ceiling.c1.get", ceiling, 1, "get")],
      [sequentialSet("ceiling.connector.seqSet", standalone.connector), redisBenchmark("ceiling.c1.set", ceiling, 1, "set")],
      [concurrentGet("ceiling.connector.conc50Get", standalone.connector), redisBenchmark("ceiling.c50.get", ceiling, 50, "get")],
      [concurrentSet("ceiling.connector.conc50Set", standalone.connector), redisBenchmark("ceiling.c50.set", ceiling, 50, "set")],
    ], profile.ceiling);

    try {
      const syncStandalone = openSyncClient(outputs, "standalone");
      closers.push(() => syncStandalone.close());
      const syncCluster = openSyncClient(outputs, "cluster");
      closers.push(() => syncCluster.close());
      verifySync("sync standalone", syncStandalone);
      verifySync("sync cluster", syncCluster);
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
      ], profile.clients);
    } catch (error) {
      results.fail("sync clients", error);
    }

    log(`sync client cost: ${profile.probeRepetitions} fresh process(es) per topology`);
    for (let rep = 0; rep < profile.probeRepetitions; rep++) {
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

function buildRows(results: Results): void {
  const r = results;
  for (const topology of ["standalone", "cluster"] as const) {
    const section = `connector async / raw ioredis, ${topology}`;
    const t = TARGETS.connectorVsRaw;
    r.ratio(section, "sequential GET", [`${topology}.connector.seqGet`, "connector"], [`${topology}.raw.seqGet`, "ioredis"], t);
    r.ratio(section, "sequential SET", [`${topology}.connector.seqSet`, "connector"], [`${topology}.raw.seqSet`, "ioredis"], t);
    r.ratio(section, "50-way concurrent GET", [`${topology}.connector.conc50Get`, "connector"], [`${topology}.raw.conc50Get`, "ioredis"], t);
  }
  r.ratio(
    "noise gauge: two raw ioredis clients, same options, standalone",
    "50-way concurrent GET",
    ["control.raw2.conc50Get", "ioredis #2"],
    ["control.raw.conc50Get", "ioredis"],
  );
  for (const topology of ["standalone", "cluster"] as const) {
    const section = `sync facade / async await-per-call, ${topology}`;
    const p = `sync.${topology}`;
    r.ratio(section, "sequential GET", [`${p}.sync.seqGet`, "sync"], [`${p}.async.seqGet`, "async"], TARGETS.syncSequential);
    r.ratio(section, "sequential SET", [`${p}.sync.seqSet`, "sync"], [`${p}.async.seqSet`, "async"], TARGETS.syncSequential);
    r.ratio(section, `pipeline of ${PIPELINE_SIZE} (commands/s)`, [`${p}.sync.pipeline`, "sync"], [`${p}.async.pipeline`, "async"], TARGETS.syncPipeline);
  }
  const ceiling = "connector async / redis-benchmark (server ceiling), standalone";
  r.ratio(ceiling, "sequential GET vs -c 1 GET", ["ceiling.connector.seqGet", "connector"], ["ceiling.c1.get", "redis-bench -c 1"]);
  r.ratio(ceiling, "sequential SET vs -c 1 SET", ["ceiling.connector.seqSet", "connector"], ["ceiling.c1.set", "redis-bench -c 1"]);
  r.ratio(ceiling, "50-way GET vs -c 50 GET", ["ceiling.connector.conc50Get", "connector"], ["ceiling.c50.get", "redis-bench -c 50"]);
  r.ratio(ceiling, "50-way SET vs -c 50 SET", ["ceiling.connector.conc50Set", "connector"], ["ceiling.c50.set", "redis-bench -c 50"]);

  const runner = "local runner (standalone + 6-node cluster)";
  r.value(runner, "start -> every node cluster_state:ok", "runner.readyMs", "ms", TARGETS.clusterReadyMs);
  r.value(runner, "teardown (all processes gone, dir removed)", "runner.teardownMs", "ms", TARGETS.teardownMs);
  const cost = "one sync client (fresh process)";
  for (const topology of ["standalone", "cluster"] as const) {
    r.value(cost, `RSS added, ${topology} (create + 1 call)`, `syncClient.${topology}.rssAddedMb`, "MB", TARGETS.syncClientRssMb);
  }
  for (const topology of ["standalone", "cluster"] as const) {
    r.value(cost, `first reply after creation, ${topology}`, `syncClient.${topology}.firstReplyMs`, "ms", TARGETS.firstSyncReplyMs);
  }
}

function machine(outputs: StackOutputs | undefined): Record<string, unknown> {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    memoryGb: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    node: process.version,
    redis: outputs?.redisVersion ?? "unknown",
    os: `${os.type()} ${os.release()}`,
  };
}

async function main(): Promise<number> {
  const { profile, outFile } = parseArgs(process.argv.slice(2));
  const results = new Results();
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg();
  log(`profile ${profile.name}: ${JSON.stringify(profile)}`);

  // The runner's own exit hooks kill its redis-servers when this process ends for any reason.
  const abort = (why: string, code: number): void => {
    log(why);
    killRedisBenchmarks();
    killSyncClientProbes();
    process.exit(code);
  };
  process.once("SIGINT", () => abort("interrupted: stopping servers", 130));
  process.once("SIGTERM", () => abort("terminated: stopping servers", 143));
  setTimeout(() => abort(`exceeded its ${profile.deadlineMs / 1000} s bound: stopping servers, failing`, 3), profile.deadlineMs).unref();

  for (let cycle = 1; cycle < profile.runnerCycles; cycle++) {
    log(`local runner: start/stop cycle ${cycle}`);
    try {
      await measureRunnerCycle(results);
    } catch (error) {
      results.fail("local runner cycle", error);
    }
  }

  log("starting the bench's stack (local runner)");
  let stack: LocalStack | undefined;
  const stackStart = nowMs();
  try {
    stack = await startLocalStack();
    results.addValue("runner.readyMs", nowMs() - stackStart);
    results.notes.runnerReportedReadyMs = stack.readyMs;
    await benchClients(results, stack, profile);
  } catch (error) {
    results.fail("bench", error);
  } finally {
    if (stack !== undefined) {
      const stopStart = nowMs();
      try {
        await stack.stop();
        results.addValue("runner.teardownMs", nowMs() - stopStart);
      } catch (error) {
        results.fail("stopping the stack", error);
      }
    }
  }

  buildRows(results);
  const table = formatTable(results.rows);
  const info = machine(stack?.outputs);
  process.stdout.write(
    `\nBenchmark (${profile.name}) ${startedAt}: nproc ${info.nproc}, node ${info.node}, redis ${info.redis}, ` +
      `load ${loadAtStart.map((l) => l.toFixed(2)).join(" ")}\n` +
      `Clients: ${profile.clients.rounds} interleaved rounds of ${profile.clients.budgetMs} ms per contender; ` +
      `redis-benchmark rows: ${profile.ceiling.rounds} rounds of ${profile.ceiling.budgetMs} ms. ` +
      `Ops/s are medians over rounds, ratios medians of per-round ratios.\n\n` +
      `${table}\n`,
  );
  const failedRows = results.rows.filter((row) => row.check === "FAILED");
  const durationMs = nowMs() - benchStart;
  const document = {
    schemaVersion: 1,
    startedAt,
    durationMs: Math.round(durationMs),
    profile,
    machine: info,
    targets: TARGETS,
    notes: results.notes,
    rows: results.rows,
    samples: Object.fromEntries([...results.samples, ...results.values]),
    failures: results.failures,
  };
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify(document, null, 2) + "\n");
  log(`wrote ${path.relative(process.cwd(), outFile)} in ${(durationMs / 1000).toFixed(1)} s`);

  if (results.failures.length > 0 || failedRows.length > 0) {
    process.stderr.write(
      `\nbench FAILED: ${results.failures.length} error(s), ${failedRows.length} row(s) without a number\n` +
        results.failures.map((f) => `  - ${f}\n`).join("") +
        failedRows.map((row) => `  - no figure: ${row.section} / ${row.label}\n`).join(""),
    );
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
