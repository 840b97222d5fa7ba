/**
 * Starting, identifying and stopping the local runner's redis-server processes. Processes
 * get their config as a file path (the password is inside the 0600 file, never in argv),
 * and are only ever signalled after checking they are still the process we started
 * (same start time, a redis-server), since pids are reused.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import { findRedisBinaries } from "./redisBinaries";
import { parseInfo, probeRedis, RedisReplyError } from "./redisProbe";

/** What identifies a process we started, across processes (the CLI's `down`). */
export interface ProcessIdentity {
  pid: number;
  /** Kernel start time (clock ticks since boot, /proc/<pid>/stat field 22); "" where /proc is missing. */
  startTime: string;
}

export interface StartedRedis extends ProcessIdentity {
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<string>;
  /** Whether the exit has been seen. */
  hasExited(): boolean;
}

/** Delay between health polls. */
const POLL_MS = 25;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The `redis-server` binary the runner starts (REDIS_SERVER_BIN, else PATH). */
export function redisServerBinary(): string {
  return findRedisBinaries().server;
}

/** `redis-server --version` -> `7.0.15`. */
export function localRedisVersion(server: string = redisServerBinary()): string {
  const result = spawnSync(server, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (result.error) throw new Error(`cannot run ${server} --version (${result.error.message})`);
  const match = /v=(\d+\.\d+\.\d+)/.exec(result.stdout);
  if (!match) throw new Error(`cannot read the version from \`${server} --version\`: ${result.stdout.trim()}`);
  return match[1];
}

/** Start time of `pid` from /proc, or undefined when the process is gone (or a zombie). */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the parenthesised command name, which may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return fields[19];
}

function hasProc(): boolean {
  return fs.existsSync("/proc/self/stat");
}

/** Whether `identity` still names a live process (not a zombie, not a reused pid). */
export function isAlive(identity: ProcessIdentity): boolean {
  if (hasProc()) {
    const startTime = processStartTime(identity.pid);
    return startTime !== undefined && (identity.startTime === "" || startTime === identity.startTime);
  }
  try {
    process.kill(identity.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The process's command line as shown by `ps` (redis-server rewrites it to `redis-server 127.0.0.1:<port> ...`). */
export function processCommandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    const ps = spawnSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8", timeout: 5000 });
    return ps.status === 0 ? ps.stdout.trim() : undefined;
  }
}

/**
 * Whether `identity` is a live redis-server that the runner started for `port` from
 * `configPath`: checked before signalling a pid read from a state file.
 */
export function isOurRedisServer(identity: ProcessIdentity, port: number, configPath: string): boolean {
  if (!isAlive(identity)) return false;
  const args = processCommandLine(identity.pid);
  if (args === undefined || !args.includes("redis-server")) return false;
  return args.includes(`:${port}`) || args.includes(configPath);
}

/**
 * Starts `redis-server <configPath>`. With `detached`, the process gets its own process
 * group and outlives this one; otherwise it shares ours (a terminal's Ctrl-C reaches it too).
 * Either way it does not keep this process's event loop alive.
 */
export function startRedisServer(
  configPath: string,
  options: {
    detached: boolean;
    cwd: string;
    /** fd for stdout + stderr */
    output?: number;
    /**
     * Network namespace to run in (a simulated host): `ip netns exec` enters it and execs
     * redis-server in place, so the pid is redis-server's own.
     */
    netns?: string;
  },
): StartedRedis {
  const output = options.output ?? "ignore";
  const [command, args] =
    options.netns === undefined
      ? [redisServerBinary(), [configPath]]
      : ["ip", ["netns", "exec", options.netns, redisServerBinary(), configPath]];
  const child = spawn(command, args, {
    cwd: options.cwd,
    detached: options.detached,
    stdio: ["ignore", output, output],
  });
  child.unref();
  let exitedFlag = false;
  const exited = new Promise<string>((resolve) => {
    child.once("error", (error) => {
      exitedFlag = true;
      resolve(`failed to start: ${error.message}`);
    });
    child.once("exit", (code, signal) => {
      exitedFlag = true;
      resolve(signal ? `killed by ${signal}` : `exit code ${String(code)}`);
    });
  });
  const pid = child.pid ?? -1;
  return {
    pid,
    startTime: (pid > 0 && processStartTime(pid)) || "",
    exited,
    hasExited: () => exitedFlag || pid <= 0,
  };
}

/**
 * Waits until the redis-server with pid `pid` answers on `port` (its INFO reports that pid,
 * so a stranger that grabbed the port does not count) and has loaded its dataset: INFO answers
 * while a restarted node still loads its AOF or RDB, when most commands get `-LOADING`.
 * Rejects when `stillRunning` turns false or `deadline` (epoch ms) passes, with the last thing seen.
 */
export async function waitUntilServing(
  pid: number,
  port: number,
  password: string,
  deadline: number,
  stillRunning: () => boolean,
  host = "127.0.0.1",
): Promise<void> {
  let last = "no answer yet";
  for (;;) {
    if (!stillRunning()) throw new Error(`redis-server (pid ${pid}) on port ${port} exited (${last})`);
    try {
      // The default sections hold both `server` (process_id) and `persistence` (loading).
      const info = parseInfo(String(await probeRedis(port, ["INFO"], { host, password, timeoutMs: 500 })));
      const servingPid = info.get("process_id");
      if (servingPid !== String(pid)) last = `port ${port} is served by another process (pid ${servingPid ?? "?"})`;
      else if (info.get("loading") === "1") last = "still loading its dataset";
      else return;
    } catch (error) {
      last = error instanceof RedisReplyError ? `replied ${error.message}` : (error as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`redis-server (pid ${pid}) on port ${port} not serving in time (${last})`);
    await sleep(POLL_MS);
  }
}

/**
 * Stops processes: SIGTERM, then SIGKILL for those still alive after `graceMs`, then waits
 * (bounded) until they are gone. Returns the processes that could not be stopped.
 */
export async function terminateProcesses(identities: ProcessIdentity[], graceMs: number): Promise<ProcessIdentity[]> {
  const signalAll = (signal: NodeJS.Signals, targets: ProcessIdentity[]): void => {
    for (const target of targets) {
      try {
        process.kill(target.pid, signal);
      } catch {
        // Already gone.
      }
    }
  };
  const waitGone = async (targets: ProcessIdentity[], ms: number): Promise<ProcessIdentity[]> => {
    const until = Date.now() + ms;
    let alive = targets.filter(isAlive);
    while (alive.length > 0 && Date.now() < until) {
      await sleep(POLL_MS);
      alive = alive.filter(isAlive);
    }
    return alive;
  };
  let alive = identities.filter(isAlive);
  signalAll("SIGTERM", alive);
  alive = await waitGone(alive, graceMs);
  if (alive.length === 0) return [];
  signalAll("SIGKILL", alive);
  return waitGone(alive, 2000);
}

/** SIGKILLs live processes at once; for exit hooks, where nothing async can run. */
export function killProcessesSync(identities: ProcessIdentity[]): void {
  for (const identity of identities) {
    if (!isAlive(identity)) continue;
    try {
      process.kill(identity.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}
