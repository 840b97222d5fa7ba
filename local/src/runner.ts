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
  renderBootstrapScript,
  validateStackSettings,
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
  const record = (): LocalStackRecord => ({
    version: 1,
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
    await runBootstrap(dir, binaries, password, seeds, settings, log);
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

/** Runs the rendered bootstrap script with `sh`, streaming its lines to `log`. */
async function runBootstrap(
  dir: string,
  binaries: RedisBinaries,
  password: string,
  seeds: Endpoint[],
  settings: Pick<StackSettings, "replicasPerMaster" | "bootstrapTimeoutSec" | "nodeTimeoutMs">,
  log: (line: string) => void,
): Promise<void> {
  const timeoutSec = settings.bootstrapTimeoutSec;
  const passwordFile = path.join(dir, "password");
  if (password !== "") writePrivateFile(passwordFile, password);
  const scriptPath = path.join(dir, "bootstrap.sh");
  writePrivateFile(scriptPath, renderBootstrapScript({
    nodes: seeds,
    replicasPerMaster: settings.replicasPerMaster,
    timeoutSec,
    passwordFile,
    nodeTimeoutMs: settings.nodeTimeoutMs,
  }));

  // The script calls `redis-cli` by name: put the resolved one first on its PATH.
  const binDir = path.join(dir, "bin");
  fs.mkdirSync(binDir, { recursive: true, mode: 0o700 });
  fs.symlinkSync(binaries.cli, path.join(binDir, "redis-cli"));
  const searchPath = [binDir, process.env.PATH ?? ""].join(path.delimiter);
  const child = spawn("sh", [scriptPath], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { PATH: searchPath } });
  const errors: string[] = [];
  // redis-cli reports its own errors ([ERR] ...) on stdout: keep the last lines for the message.
  const recent: string[] = [];
  // redis-cli colours its --cluster output even when it is not on a terminal.
  const plain = (line: string): string => line.replace(/\x1b\[[0-9;]*m/g, "");
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    recent.push(plain(line));
    if (recent.length > 5) recent.shift();
    log(`  ${plain(line)}`);
  });
  readline.createInterface({ input: child.stderr }).on("line", (line) => {
    errors.push(plain(line));
    log(`  ${plain(line)}`);
  });
  // The script bounds itself; this is the backstop should it hang anyway.
  const backstop = setTimeout(() => child.kill("SIGKILL"), (timeoutSec + 10) * 1000);
  const result = await new Promise<string>((resolve) => {
    child.once("error", (error) => resolve(`could not run sh: ${error.message}`));
    child.once("close", (code, signal) => resolve(code === 0 ? "" : signal ? `killed by ${signal}` : `exit code ${String(code)}`));
  });
  clearTimeout(backstop);
  if (result !== "") {
    throw new Error(
      `cluster bootstrap failed (${result}): ${errors.join(" | ") || "no message"}` +
        (recent.length > 0 ? `; last output: ${recent.join(" | ")}` : ""),
    );
  }
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
