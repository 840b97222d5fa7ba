/**
 * What another process needs to stop a local stack: its dir, outputs file and each node's
 * process identity. Written to `<dir>/stack.json` (and copied by the CLI to its state
 * file); used by the CLI's `down` and to clean up after owners that died without running
 * their exit hooks.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { BootstrapScriptArgs, NodeRole } from "@redis-on-docker/topology";
import { isAlive, isOurRedisServer, terminateProcesses, type ProcessIdentity } from "./processControl";

export interface LocalStackRecord {
  version: 1;
  dir: string;
  outputsFile: string;
  /** Detached stacks outlive their owner on purpose (the CLI's `up`). */
  detached: boolean;
  owner: ProcessIdentity;
  createdAt: string;
  nodes: Array<{ name: string; role: NodeRole; port: number; configPath: string } & ProcessIdentity>;
  /**
   * The cluster script's arguments (nodes, and across hosts the planned pairs and hosts; no
   * password): what `redis-local placement` runs the placement check with.
   */
  clusterScript?: Omit<BootstrapScriptArgs, "passwordFile" | "action" | "restoreSpread">;
}

/** Prefix of stack dirs in the temp dir; nothing else is ever removed by a record. */
export const STACK_DIR_PREFIX = "redis-local-";
export const STACK_RECORD_FILE = "stack.json";
/** SIGTERM grace before SIGKILL when stopping a stack. */
export const STOP_GRACE_MS = 1500;

/** Reads a record file, or undefined when absent or not a record. */
export function readStackRecord(file: string): LocalStackRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(file, "utf8")) as LocalStackRecord;
    return record.version === 1 && typeof record.dir === "string" && Array.isArray(record.nodes) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The record's nodes that are still the redis-servers it started. */
export function liveRecordedNodes(record: LocalStackRecord): LocalStackRecord["nodes"] {
  return record.nodes.filter((node) => isOurRedisServer(node, node.port, node.configPath));
}

/**
 * Stops a stack described by a record (possibly started by another process): signals only
 * pids that are still the redis-servers it started, then removes its dir and outputs file.
 */
export async function stopRecordedStack(record: LocalStackRecord, log: (line: string) => void): Promise<void> {
  const live = liveRecordedNodes(record);
  for (const node of record.nodes) {
    if (!live.includes(node)) log(`${node.name}: pid ${node.pid} is no longer its redis-server; not signalling it`);
  }
  const stuck = await terminateProcesses(
    live.map((n) => ({ pid: n.pid, startTime: n.startTime })),
    STOP_GRACE_MS,
  );
  if (path.basename(record.dir).startsWith(STACK_DIR_PREFIX) && fs.existsSync(path.join(record.dir, STACK_RECORD_FILE))) {
    fs.rmSync(record.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  }
  fs.rmSync(record.outputsFile, { force: true });
  if (stuck.length > 0) throw new Error(`could not stop redis-server pid(s) ${stuck.map((p) => p.pid).join(", ")}`);
  log(`stopped ${live.length} redis-server process(es) and removed ${record.dir}`);
}

/**
 * Cleans up attached stacks in the temp dir whose owner is gone (killed with SIGKILL, so
 * its exit hooks never ran).
 */
export async function reapAbandonedStacks(log: (line: string) => void): Promise<void> {
  let entries: string[];
  try {
    entries = fs.readdirSync(os.tmpdir()).filter((e) => e.startsWith(STACK_DIR_PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const record = readStackRecord(path.join(os.tmpdir(), entry, STACK_RECORD_FILE));
    if (!record || record.dir !== path.join(os.tmpdir(), entry) || record.detached || isAlive(record.owner)) continue;
    log(`cleaning up an abandoned local stack in ${record.dir} (its owner, pid ${record.owner.pid}, is gone)`);
    await stopRecordedStack(record, log).catch((error: Error) => log(`  could not clean it up: ${error.message}`));
  }
}
