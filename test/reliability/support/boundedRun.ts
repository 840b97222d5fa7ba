/**
 * Runs a command with a hard time bound in a private, empty working dir (also its TMPDIR),
 * and reports what it left behind: files in that dir, and live processes whose working dir
 * is inside it (anything the command started and did not end).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface BoundedResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the bound was hit (the command was killed) or it could not start. */
  failure: string | undefined;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** Paths (relative to the run dir) present afterwards that the caller did not put there. */
  leftoverFiles: string[];
  /** `pid args` of processes still running with their cwd in the run dir. */
  leftoverProcesses: string[];
}

export interface BoundedRunOptions {
  /** Environment of the command; nothing is inherited except PATH (and HOME). */
  env?: Record<string, string>;
  /** Files to create in the run dir first (name -> content); `{dir}` in args is replaced by the run dir. */
  files?: Record<string, string>;
  timeoutMs?: number;
}

export function runBounded(command: string, args: string[], options: BoundedRunOptions = {}): BoundedResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reliability-run-"));
  try {
    for (const [name, content] of Object.entries(options.files ?? {})) {
      fs.writeFileSync(path.join(dir, name), content, { mode: 0o600 });
    }
    const given = new Set(Object.keys(options.files ?? {}));
    const started = Date.now();
    const result = spawnSync(command, args.map((a) => a.replace(/\{dir\}/g, dir)), {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? dir, TMPDIR: dir, ...options.env },
      encoding: "utf8",
      timeout: options.timeoutMs ?? 15_000,
      killSignal: "SIGKILL",
      stdio: ["ignore", "pipe", "pipe"],
    });
    const elapsedMs = Date.now() - started;
    const failure = result.error === undefined ? undefined : `${(result.error as NodeJS.ErrnoException).code ?? result.error.message}`;
    return {
      status: result.status,
      signal: result.signal,
      failure,
      stdout: result.stdout ?? "",
      stderr: result.stderr ?? "",
      elapsedMs,
      leftoverFiles: listFiles(dir).filter((f) => !given.has(f)),
      leftoverProcesses: processesIn(dir),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function listFiles(dir: string, prefix = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    return entry.isDirectory() ? [rel + "/", ...listFiles(path.join(dir, entry.name), rel)] : [rel];
  });
}

/** Processes (of any user we can see) whose working directory is `dir` or below. */
export function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + "/")) {
        found.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim()}`);
      }
    } catch {
      // Gone, or not ours to look at.
    }
  }
  return found;
}
