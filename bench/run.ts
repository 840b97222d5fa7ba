/**
 * `npm run bench [-- --quick] [-- --out FILE]`: measures every client mode and the local
 * runner side by side, in one run, on servers it starts itself, and prints ratios against
 * the targets of issue 6 (informational). Exits non-zero only when a contender failed or
 * produced no number. See BENCHMARKS.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { StackOutputs } from "@redis-on-docker/connector";
import { startLocalStack, type LocalStack } from "@redis-on-docker/local";
import { benchClients } from "./clientBench";
import type { RoundsOptions } from "./measure";
import { killRedisBenchmarks } from "./redisBenchmark";
import { formatTable, type Target } from "./report";
import { Results } from "./results";
import { nowMs } from "./stats";
import { killSyncClientProbes } from "./syncClientCost";
import { PIPELINE_SIZE } from "./workload";

interface Profile {
  name: "quick" | "full";
  /**
   * Node clients: many short rounds, so that the two sides of a ratio run within tens of
   * ms of each other and a burst of load from elsewhere hits one pair, not the median.
   */
  clients: RoundsOptions;
  /** redis-benchmark is a process per run, so its matchups get fewer, longer rounds. */
  ceiling: RoundsOptions;
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
    deadlineMs: 110_000,
  },
  full: {
    name: "full",
    clients: { rounds: 61, budgetMs: 40, warmupMs: 300 },
    ceiling: { rounds: 9, budgetMs: 250, warmupMs: 200 },
    runnerCycles: 3,
    probeRepetitions: 3,
    deadlineMs: 230_000,
  },
};

/** Issue 6's targets. Shown as PASS/MISS; they never fail the run. */
const TARGETS = {
  connectorVsRaw: { min: 0.97 },
  syncSequential: { min: 1.0 },
  syncPipeline: { min: 1.0 },
  syncWorkerSequential: { min: 0.6, aim: 0.8 },
  syncWorkerPipeline: { min: 0.8 },
  clusterReadyMs: { max: 3000 },
  teardownMs: { max: 1000 },
  syncClientRssMb: { max: 40 },
  firstSyncReplyMs: { max: 200 },
} satisfies Record<string, Target>;


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

async function measureRunnerCycle(results: Results): Promise<void> {
  const start = nowMs();
  const stack = await startLocalStack();
  results.addValue("runner.readyMs", nowMs() - start);
  const stopStart = nowMs();
  await stack.stop();
  results.addValue("runner.teardownMs", nowMs() - stopStart);
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
    "noise gauge: raw ioredis / raw ioredis, same options, standalone",
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
  for (const topology of ["standalone", "cluster"] as const) {
    const section = `sync, worker path only (fast lane off) / async await-per-call, ${topology}`;
    const p = `syncWorker.${topology}`;
    r.ratio(section, "sequential GET", [`${p}.sync.seqGet`, "sync worker"], [`${p}.async.seqGet`, "async"], TARGETS.syncWorkerSequential);
    r.ratio(section, "sequential SET", [`${p}.sync.seqSet`, "sync worker"], [`${p}.async.seqSet`, "async"], TARGETS.syncWorkerSequential);
    r.ratio(section, `pipeline of ${PIPELINE_SIZE} (commands/s)`, [`${p}.sync.pipeline`, "sync worker"], [`${p}.async.pipeline`, "async"], TARGETS.syncWorkerPipeline);
  }
  const ceiling = "connector async / redis-benchmark (server ceiling), standalone";
  r.ratio(ceiling, "sequential GET vs -c 1 GET", ["ceiling.connector.seqGet", "connector"], ["ceiling.c1.get", "redis-bench -c 1"]);
  r.ratio(ceiling, "sequential SET vs -c 1 SET", ["ceiling.connector.seqSet", "connector"], ["ceiling.c1.set", "redis-bench -c 1"]);
  r.ratio(ceiling, "50-way GET vs -c 50 GET", ["ceiling.connector.conc50Get", "connector"], ["ceiling.c50.get", "redis-bench -c 50"]);
  r.ratio(ceiling, "50-way SET vs -c 50 SET", ["ceiling.connector.conc50Set", "connector"], ["ceiling.c50.set", "redis-bench -c 50"]);

  const runner = "local runner (standalone + 6-node cluster)";
  r.value(runner, "start -> ready (every node agrees on the topology)", "runner.readyMs", "ms", TARGETS.clusterReadyMs);
  r.value(runner, "teardown (all processes gone, dir removed)", "runner.teardownMs", "ms", TARGETS.teardownMs);
  const cost = "one sync client (fresh process)";
  for (const topology of ["standalone", "cluster"] as const) {
    r.value(cost, `RSS added, ${topology} (create + 1 call)`, `syncClient.${topology}.rssAddedMb`, "MB", TARGETS.syncClientRssMb);
  }
  for (const topology of ["standalone", "cluster"] as const) {
    r.value(cost, `first reply after creation, ${topology}`, `syncClient.${topology}.firstReplyMs`, "ms", TARGETS.firstSyncReplyMs);
  }
}

function machine(outputs: StackOutputs | undefined, loadAtStart: number[]): Record<string, unknown> {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    memoryGb: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    loadAverageAtStart: loadAtStart.map((l) => Number(l.toFixed(2))),
    loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))),
    node: process.version,
    redis: outputs?.redisVersion ?? "unknown",
    os: `${os.type()} ${os.release()}`,
  };
}

async function main(): Promise<number> {
  const { profile, outFile } = parseArgs(process.argv.slice(2));
  const results = new Results(log);
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
    await benchClients(results, stack.outputs, { ...profile, log });
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
  const info = machine(stack?.outputs, loadAtStart);
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
