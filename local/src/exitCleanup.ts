/**
 * Last-resort teardown of attached local stacks when the owning process ends: on normal
 * exit, and on SIGINT / SIGTERM / SIGHUP (then the signal is re-raised so the process still
 * dies as it would have). The hooks are installed once and hold no handles, so they never
 * keep a process (e.g. mocha) alive.
 */
import fs from "node:fs";
import { killProcessesSync, type ProcessIdentity } from "./processControl";

/** What must go when the process ends: processes to kill and paths to remove. */
export interface CleanupEntry {
  processes(): ProcessIdentity[];
  paths(): string[];
  /** Anything else to undo, synchronously, after the processes are killed (e.g. network namespaces). */
  run?(): void;
}

/** What a signal's teardown did, for a CLI to tell its user. */
export interface InterruptReport {
  signal: NodeJS.Signals;
  processesStopped: number;
  pathsRemoved: string[];
}

const entries = new Set<CleanupEntry>();
let installed = false;
let reportInterrupt: ((report: InterruptReport) => void) | undefined;

/** Called (synchronously, once) when a signal ends the process while stacks are registered. */
export function onInterrupt(report: ((report: InterruptReport) => void) | undefined): void {
  reportInterrupt = report;
}

function cleanupAllSync(signal?: NodeJS.Signals): void {
  let processesStopped = 0;
  const pathsRemoved: string[] = [];
  for (const entry of entries) {
    const processes = entry.processes();
    processesStopped += processes.length;
    pathsRemoved.push(...entry.paths());
    killProcessesSync(processes);
    try {
      entry.run?.();
    } catch {
      // Best effort while exiting, like the paths below.
    }
    for (const target of entry.paths()) {
      try {
        fs.rmSync(target, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
      } catch {
        // Best effort while exiting; nothing else can be done here.
      }
    }
  }
  entries.clear();
  if (signal !== undefined && reportInterrupt !== undefined) {
    const report = reportInterrupt;
    reportInterrupt = undefined;
    try {
      report({ signal, processesStopped, pathsRemoved });
    } catch {
      // A report must not keep the signal from ending the process.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", () => cleanupAllSync());
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      cleanupAllSync(signal);
      // Listening replaced the default action; when no one else handles the signal, restore it.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** Registers `entry` for teardown at exit; returns the function that unregisters it. */
export function registerExitCleanup(entry: CleanupEntry): () => void {
  install();
  entries.add(entry);
  return () => {
    entries.delete(entry);
  };
}
