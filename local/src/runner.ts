/**
 * The local runner: realises `planTopology` as redis-server processes on 127.0.0.1 (one
 * standalone, N cluster nodes on free ports), forms the cluster with the same bootstrap
 * script as the Docker job, and writes the outputs document. No Docker, no Pulumi.
 *
 * Secrets: the password lives only in 0600 files inside a 0700 temp dir (node configs,
 * the bootstrap's password file) and in the 0600 outputs file; it is on no command line.
 */
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import util from "node:util";
import type { Endpoint, StackOutputs } from "@redis-on-docker/outputs";
import {
  DEFAULT_SETTINGS,
  planTopology,
  placementScriptArgs,
  renderBootstrapScript,
  validateStackSettings,
  type BootstrapScriptArgs,
  type StackSettings,
  type TopologyPlan,
} from "@redis-on-docker/topology";
import { registerExitCleanup } from "./exitCleanup";
import { LocalRedisNode, startLocalNodes, writePrivateFile, type LocalHostPlacement, type LocalNode } from "./localNodes";
import { findRedisBinaries, type RedisBinaries } from "./redisBinaries";
import {
  localRedisVersion,
  processStartTime,
  sleep,
  terminateProcesses,
  type ProcessIdentity,
} from "./processControl";
import { parseInfo, probeRedis } from "./redisProbe";
import {
  reapAbandonedStacks,
  STACK_DIR_PREFIX,
  STACK_RECORD_FILE,
  STOP_GRACE_MS,
  type LocalStackRecord,
} from "./stackRecord";

export type { LocalHostPlacement, LocalNode } from "./localNodes";
export type { LocalStackRecord } from "./stackRecord";

/**
 * Where the local runner departs from the stack's defaults (`DEFAULT_SETTINGS`), and why: masters
 * turn ok, and fail over, sooner with a shorter `cluster-node-timeout`; test data need not survive;
 * local processes start in well under the stack's bootstrap bound.
 */
export const LOCAL_DEFAULTS = Object.freeze({
  clusterNodes: DEFAULT_SETTINGS.clusterNodes,
  replicasPerMaster: DEFAULT_SETTINGS.replicasPerMaster,
  nodeTimeoutMs: 2000,
  persistence: "none",
  bootstrapTimeoutSec: 30,
} satisfies Partial<StackSettings>);

/** The stack settings the local runner takes (the others are about Docker). */
type LocalSettingKey = keyof typeof LOCAL_DEFAULTS;

/**
 * What `startLocalStack` can be told. The settings fields are `StackSettings`' own (see their docs),
 * but left out they take `LOCAL_DEFAULTS`, not the stack's defaults.
 */
export interface LocalStackOptions extends Partial<Pick<StackSettings, LocalSettingKey>> {
  /** Password of every node; default a generated one, `""` for servers without a password. */
  password?: string;
  /** Where to write the outputs document; default `<dir>/outputs.json`. Removed by `stop()`. */
  outputsFile?: string;
  /** Progress lines (what starts, what it waits for, ready in N ms). */
  log?: (line: string) => void;
  /**
   * Simulated hosts (two or more): network namespaces the caller made, each reachable from this
   * one at its address. The plan is then spread over them (`hosts` setting): each host's
   * redis-server processes run inside its namespace on the plan's ports, announcing the host's
   * address; the bootstrap and the clients stay outside. Needs root (`ip netns exec`).
   */
  hosts?: LocalHostPlacement[];
  /** `min-replicas-to-write` of every cluster node; default 0 (off). */
  minReplicasToWrite?: number;
  /** `min-replicas-max-lag` in s; default 10. */
  minReplicasMaxLagSec?: number;
  /** First published port on simulated hosts (standalone; node i: +1+i); default 6380. */
  hostPortBase?: number;
  /**
   * Let the processes outlive this process (the CLI's `up`): own process group, no exit
   * hooks. Default false: they are killed and the dir removed when this process ends.
   */
  detached?: boolean;
}

export interface LocalStack {
  /** The outputs document (same contract as `pulumi stack output --json --show-secrets`). */
  readonly outputs: StackOutputs;
  readonly outputsFile: string;
  /** Private temp dir holding configs, data and logs. */
  readonly dir: string;
  /** Standalone first, then cluster nodes in creation order (masters first). */
  readonly nodes: readonly LocalNode[];
  /** The plan the stack realises (multi-host: `plan.hosts`, the planned pairs in `plan.bootstrap.groups`). */
  readonly plan: TopologyPlan;
  /** From the call to every node reporting `cluster_state:ok`. */
  readonly readyMs: number;
  /** Kills every process (SIGTERM, then SIGKILL) and removes the dir and outputs file. Idempotent. */
  stop(): Promise<void>;
  /** Signals one node (default SIGKILL) and waits until it is gone; for failover tests. */
  killNode(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a node again on the same port with the same config and data, so it rejoins. */
  restartNode(name: string): Promise<void>;
  /** What another process (the CLI's `down`) needs to stop this stack. */
  record(): LocalStackRecord;
  /**
   * Multi-host stacks: reports when a master and one of its replicas share a host, or a planned
   * master serves as a replica after failovers; with `restore`, restores the planned spread
   * (`CLUSTER FAILOVER` to planned masters, `CLUSTER REPLICATE` of a moved replica). One host:
   * nothing to spread.
   */
  placement(options?: { restore?: boolean }): Promise<PlacementReport>;
}

/** Starts the stack; on any failure, everything started so far is torn down before it rejects. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const startedAt = Date.now();
  const log = options.log ?? ((): void => undefined);
  const detached = options.detached ?? false;
  const password = options.password ?? crypto.randomBytes(18).toString("base64url");

  const settings = validateStackSettings(
    {
      clusterNodes: options.clusterNodes ?? LOCAL_DEFAULTS.clusterNodes,
      replicasPerMaster: options.replicasPerMaster ?? LOCAL_DEFAULTS.replicasPerMaster,
      nodeTimeoutMs: options.nodeTimeoutMs ?? LOCAL_DEFAULTS.nodeTimeoutMs,
      persistence: options.persistence ?? LOCAL_DEFAULTS.persistence,
      bootstrapTimeoutSec: options.bootstrapTimeoutSec ?? LOCAL_DEFAULTS.bootstrapTimeoutSec,
      ...(password === "" ? { allowNoPassword: true } : { password }),
      ...(options.hosts !== undefined ? { hosts: options.hosts.map((h) => ({ name: h.name, address: h.address })) } : {}),
      ...(options.minReplicasToWrite !== undefined ? { minReplicasToWrite: options.minReplicasToWrite } : {}),
      ...(options.minReplicasMaxLagSec !== undefined ? { minReplicasMaxLagSec: options.minReplicasMaxLagSec } : {}),
      ...(options.hostPortBase !== undefined ? { hostPortBase: options.hostPortBase } : {}),
    },
    "local runner options",
  );
  const multiHost = settings.hosts.length >= 2;
  const plan = planTopology(settings);
  // Before anything starts: a missing binary is an install hint, not a half-started stack.
  const binaries = findRedisBinaries();
  const redisVersion = localRedisVersion(binaries.server);
  if (!detached) await reapAbandonedStacks(log);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), STACK_DIR_PREFIX));
  fs.chmodSync(dir, 0o700);
  const outputsFile = path.resolve(options.outputsFile ?? path.join(dir, "outputs.json"));
  // Pids are saved as soon as they exist, for `down` and for reaping after a crash.
  const onProcessStarted = (): void => saveRecord();
  const placementOf = (n: { host?: string }): LocalHostPlacement | undefined =>
    multiHost ? options.hosts?.find((h) => h.name === n.host) : undefined;
  const nodes = [plan.standalone, ...plan.clusterNodes].map((n) => {
    const placement = placementOf(n);
    return new LocalRedisNode(n, { dir, password, detached, onProcessStarted, ...(placement ? { placement } : {}) });
  });
  const createdAt = new Date().toISOString();
  const owner: ProcessIdentity = { pid: process.pid, startTime: processStartTime(process.pid) ?? "" };
  const identities = (): ProcessIdentity[] =>
    nodes.flatMap((n) => {
      const id = n.identity();
      return id ? [id] : [];
    });
  let scriptArgs: ClusterScriptArgs | undefined;
  const record = (): LocalStackRecord => ({
    version: 1,
    ...(scriptArgs ? { clusterScript: scriptArgs } : {}),
    dir,
    outputsFile,
    detached,
    owner,
    createdAt,
    nodes: nodes.flatMap((n) => {
      const id = n.identity();
      return id ? [{ name: n.name, role: n.role, port: n.port, configPath: n.configPath, ...id }] : [];
    }),
  });
  function saveRecord(): void {
    writePrivateFile(path.join(dir, STACK_RECORD_FILE), JSON.stringify(record(), null, 2) + "\n");
  }
  const unregister = registerExitCleanup({
    processes: identities,
    paths: () => [dir, outputsFile],
  });
  saveRecord();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const began = Date.now();
      const stuck = await terminateProcesses(identities(), STOP_GRACE_MS);
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      fs.rmSync(outputsFile, { force: true });
      unregister();
      if (stuck.length > 0) throw new Error(`could not stop redis-server pid(s) ${stuck.map((p) => p.pid).join(", ")}`);
      log(`stopped ${nodes.length} redis-server processes and removed ${dir} in ${Date.now() - began} ms`);
    })();
    return stopping;
  };

  try {
    log(`starting ${nodes.length} redis-server ${redisVersion} processes in ${dir}`);
    await startLocalNodes(nodes, log);
    log(`all ${nodes.length} processes answer; forming the cluster`);

    const seeds: Endpoint[] = nodes.slice(1).map((n) => ({ host: n.host, port: n.port }));
    scriptArgs = clusterScriptArgs(seeds, settings, plan);
    saveRecord();
    await runBootstrap(dir, binaries, password, scriptArgs, log);
    await verifyClusterOk(seeds, password);

    const standalone = nodes[0];
    const outputs: StackOutputs = {
      schemaVersion: 1,
      redisImage: `local:${binaries.server}`,
      redisVersion,
      passwordRequired: password !== "",
      password,
      standalone: { host: standalone.host, port: standalone.port, internalHost: standalone.host, internalPort: standalone.port },
      cluster: {
        seeds,
        internalSeeds: seeds.map((s) => ({ ...s })),
        natMap: {}, // the nodes announce 127.0.0.1 (or their simulated host's address), which clients reach directly
        replicasPerMaster: settings.replicasPerMaster,
      },
    };
    fs.mkdirSync(path.dirname(outputsFile), { recursive: true });
    writePrivateFile(outputsFile, JSON.stringify(outputs, null, 2) + "\n");
    if (detached) unregister();
    const readyMs = Date.now() - startedAt;
    log(`ready in ${readyMs} ms: standalone ${standalone.host}:${standalone.port}, cluster seeds ${seeds.map((s) => `${s.host}:${s.port}`).join(" ")}`);

    const findNode = (name: string): LocalRedisNode => {
      const node = nodes.find((n) => n.name === name);
      if (!node) throw new Error(`no node named ${JSON.stringify(name)}; nodes are ${nodes.map((n) => n.name).join(", ")}`);
      return node;
    };
    // The outputs document holds the password: printing the stack must not show it.
    const inspect = (): string =>
      `LocalStack { dir: ${dir}, outputsFile: ${outputsFile}, nodes: ${nodes.map((n) => `${n.name}@${n.port}`).join(" ")}, readyMs: ${readyMs} }`;
    const stack: LocalStack = {
      outputs,
      outputsFile,
      dir,
      nodes,
      plan,
      readyMs,
      stop,
      record,
      async killNode(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
        const node = findNode(name);
        const identity = node.identity();
        if (!identity || !node.running()) throw new Error(`${name} is not running`);
        process.kill(identity.pid, signal);
        const until = Date.now() + 15_000;
        while (node.running()) {
          if (Date.now() > until) throw new Error(`${name} (pid ${identity.pid}) still running 15 s after ${signal}`);
          await sleep(20);
        }
        log(`${name} (pid ${identity.pid}) stopped by ${signal}`);
      },
      placement: (opts: { restore?: boolean } = {}) => checkPlacement(record(), { restore: opts.restore ?? false, log, cli: binaries.cli }),
      async restartNode(name: string): Promise<void> {
        const node = findNode(name);
        if (stopping) throw new Error(`cannot restart ${name}: the stack is stopped`);
        if (node.running()) await terminateProcesses([node.identity() as ProcessIdentity], STOP_GRACE_MS);
        await node.start();
        log(`${name} restarted on ${node.host}:${node.port} (pid ${node.pid})`);
      },
    };
    return Object.assign(stack, { [util.inspect.custom]: inspect });
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/** What the stack's bootstrap script needs besides the action (kept in the record for `placement`). */
export type ClusterScriptArgs = Omit<BootstrapScriptArgs, "passwordFile" | "action" | "restoreSpread">;

/** The cluster-script arguments of a stack: its nodes as reached from here, and, across hosts, the planned pairs and hosts. */
function clusterScriptArgs(
  seeds: Endpoint[],
  settings: Pick<StackSettings, "replicasPerMaster" | "bootstrapTimeoutSec" | "nodeTimeoutMs">,
  plan: TopologyPlan,
): ClusterScriptArgs {
  const args: ClusterScriptArgs = {
    nodes: seeds.map((s) => ({ ...s })),
    replicasPerMaster: settings.replicasPerMaster,
    timeoutSec: settings.bootstrapTimeoutSec,
    nodeTimeoutMs: settings.nodeTimeoutMs,
  };
  if (plan.bootstrap.groups === undefined) return args;
  const { pairs, nodeHosts } = placementScriptArgs(seeds, plan.bootstrap.groups, plan.clusterNodes, false);
  return { ...args, ...(pairs ? { pairs } : {}), ...(nodeHosts ? { nodeHosts } : {}) };
}

/** The outcome of one run of the cluster script. */
interface ScriptRun {
  /** `""` on exit 0, else what ended it (`exit code 1`, `killed by SIGKILL`). */
  result: string;
  exitCode: number | null;
  /** Its stdout lines (progress), without colours. */
  lines: string[];
  /** Its stderr lines (errors). */
  errors: string[];
}

/**
 * Renders the cluster script (`renderBootstrapScript`) into `<dir>/<name>.sh` and runs it with
 * `sh`, streaming its lines to `log`. The password is read from `<dir>/password`.
 */
async function runClusterScript(
  dir: string,
  cli: string,
  args: ClusterScriptArgs & Pick<BootstrapScriptArgs, "action" | "restoreSpread">,
  name: string,
  log: (line: string) => void,
): Promise<ScriptRun> {
  const passwordFile = path.join(dir, "password");
  const scriptPath = path.join(dir, `${name}.sh`);
  writePrivateFile(scriptPath, renderBootstrapScript({ ...args, passwordFile }));

  // The script calls `redis-cli` by name: put the resolved one first on its PATH.
  const binDir = path.join(dir, "bin");
  fs.mkdirSync(binDir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(path.join(binDir, "redis-cli"))) fs.symlinkSync(cli, path.join(binDir, "redis-cli"));
  const searchPath = [binDir, process.env.PATH ?? ""].join(path.delimiter);
  const child = spawn("sh", [scriptPath], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { PATH: searchPath } });
  const errors: string[] = [];
  const lines: string[] = [];
  // redis-cli colours its --cluster output even when it is not on a terminal.
  const plain = (line: string): string => line.replace(/\x1b\[[0-9;]*m/g, "");
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(plain(line));
    log(`  ${plain(line)}`);
  });
  readline.createInterface({ input: child.stderr }).on("line", (line) => {
    errors.push(plain(line));
    log(`  ${plain(line)}`);
  });
  // The script bounds itself; this is the backstop should it hang anyway.
  const backstop = setTimeout(() => child.kill("SIGKILL"), (args.timeoutSec + 10) * 1000);
  const [result, exitCode] = await new Promise<[string, number | null]>((resolve) => {
    child.once("error", (error) => resolve([`could not run sh: ${error.message}`, null]));
    child.once("close", (code, signal) => resolve([code === 0 ? "" : signal ? `killed by ${signal}` : `exit code ${String(code)}`, code]));
  });
  clearTimeout(backstop);
  return { result, exitCode, lines, errors };
}

/** Forms the cluster with the bootstrap script; throws with its last lines when it fails. */
async function runBootstrap(
  dir: string,
  binaries: RedisBinaries,
  password: string,
  args: ClusterScriptArgs,
  log: (line: string) => void,
): Promise<void> {
  if (password !== "") writePrivateFile(path.join(dir, "password"), password);
  const run = await runClusterScript(dir, binaries.cli, args, "bootstrap", log);
  if (run.result !== "") {
    // redis-cli reports its own errors ([ERR] ...) on stdout: the last lines go into the message.
    const recent = run.lines.slice(-5);
    throw new Error(
      `cluster bootstrap failed (${run.result}): ${run.errors.join(" | ") || "no message"}` +
        (recent.length > 0 ? `; last output: ${recent.join(" | ")}` : ""),
    );
  }
}

/** What the placement check found (see `LocalStack.placement`). */
export interface PlacementReport {
  /** No master shares a host with one of its replicas, and every planned master serves. */
  asPlanned: boolean;
  /** The check's `placement:` lines: what is misplaced, and what a restore did. */
  lines: string[];
}

/**
 * Checks a multi-host stack's placement with the bootstrap script's own check (`ACTION=placement`)
 * and, with `restore`, restores the planned spread. Throws when the check
 * itself fails (a node unreachable past the bound, a refused failover).
 */
export async function checkPlacement(
  record: Pick<LocalStackRecord, "dir" | "clusterScript">,
  options: { restore?: boolean; log?: (line: string) => void; cli?: string } = {},
): Promise<PlacementReport> {
  const args = record.clusterScript;
  if (args?.nodeHosts === undefined) {
    return { asPlanned: true, lines: ["placement: one host: every node shares it, there is nothing to spread"] };
  }
  const run = await runClusterScript(
    record.dir,
    options.cli ?? findRedisBinaries().cli,
    { ...args, action: "placement", restoreSpread: options.restore ?? false },
    "placement",
    options.log ?? ((): void => undefined),
  );
  const lines = run.lines.map((l) => l.replace(/^bootstrap: /, "")).filter((l) => l.startsWith("placement:"));
  if (run.exitCode === 0) return { asPlanned: true, lines };
  if (run.exitCode === 1 && run.errors.length === 0) return { asPlanned: false, lines };
  throw new Error(`placement check failed (${run.result}): ${run.errors.join(" | ") || "no message"}`);
}

/** Independent check after the script: every node reports `cluster_state:ok` and knows them all. */
async function verifyClusterOk(seeds: Endpoint[], password: string): Promise<void> {
  const problems: string[] = [];
  await Promise.all(
    seeds.map(async (seed) => {
      const info = parseInfo(String(await probeRedis(seed.port, ["CLUSTER", "INFO"], { host: seed.host, password, timeoutMs: 2000 })));
      const state = info.get("cluster_state");
      const known = info.get("cluster_known_nodes");
      if (state !== "ok" || known !== String(seeds.length)) {
        problems.push(`${seed.host}:${seed.port} cluster_state:${state} known_nodes:${known}`);
      }
    }),
  );
  if (problems.length > 0) throw new Error(`cluster not healthy after bootstrap: ${problems.join("; ")}`);
}
