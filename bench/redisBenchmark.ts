/**
 * `redis-benchmark` (C, from the Redis distribution) against the bench's standalone server:
 * the server-side ceiling that a Node client on the same machine can be compared with.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface RedisBenchmarkRun {
  host: string;
  port: number;
  /** `""` for none. */
  password: string;
  /** `-c`: parallel connections. */
  clients: number;
  test: "get" | "set";
  /** `-n`: total requests. */
  requests: number;
  /** Bound on the whole run; the process is killed when it is exceeded. */
  timeoutMs: number;
}

const live = new Set<ChildProcess>();

/** Kills any redis-benchmark still running (on Ctrl-C or a failed run). */
export function killRedisBenchmarks(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}

/** Runs one test and returns its requests per second as redis-benchmark reports it. */
export function runRedisBenchmark(run: RedisBenchmarkRun): Promise<number> {
  const args = [
    "-h", run.host,
    "-p", String(run.port),
    "-c", String(run.clients),
    "-n", String(run.requests),
    // The same key space and value size as the Node contenders (1000 keys, 3-byte values).
    "-r", "1000",
    "-d", "3",
    "-t", run.test,
    "--csv",
  ];
  // redis-benchmark (7.0) ignores REDISCLI_AUTH (checked: it gets NOAUTH), so `-a` is the
  // only way; this is a bench-only process on loopback against a throwaway server.
  if (run.password !== "") args.push("-a", run.password);
  return new Promise((resolve, reject) => {
    const child = spawn("redis-benchmark", args, { stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), run.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(new Error(`redis-benchmark could not be started: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      const rps = parseCsvRps(stdout, run.test);
      if (code === 0 && rps !== undefined) return resolve(rps);
      const why = signal === "SIGKILL" ? `killed after ${run.timeoutMs} ms` : `exit code ${code ?? signal}`;
      // Never echo the command line: it carries the password.
      reject(new Error(`redis-benchmark -c ${run.clients} -t ${run.test} failed (${why}): ${stderr.trim() || stdout.trim()}`));
    });
  });
}

/** Picks the `rps` column of the test's row out of `--csv` output. */
function parseCsvRps(csv: string, test: string): number | undefined {
  for (const line of csv.split("\n")) {
    const cells = line.split(",").map((c) => c.replace(/"/g, "").trim());
    if (cells[0]?.toLowerCase() === test) {
      const rps = Number(cells[1]);
      return Number.isFinite(rps) && rps > 0 ? rps : undefined;
    }
  }
  return undefined;
}
