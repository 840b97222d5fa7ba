/**
 * A second, throw-away Docker engine for scenarios that need daemon options the shared engine
 * does not have (e.g. `--log-opt max-size=10m`, as a server's daemon.json often sets). The
 * shared engine is never restarted: others use it.
 *
 * Everything of it lives in one temp dir named after the owning process (data root, exec root,
 * pid file, socket, log); it creates no default bridge (`--bridge=none`) and leaves iptables to
 * the shared engine (`--iptables=false`: its start would flush the shared DOCKER chains).
 * Published 127.0.0.1 ports go through docker-proxy. Traffic between its containers, though,
 * crosses the host's FORWARD chain, whose policy the shared engine sets to DROP (with
 * br_netfilter), so `allowSubnet` adds one ACCEPT rule for a network's own subnet, tagged with
 * the owner pid. `stop()` removes the rules, ends the daemon and removes the dir;
 * `sweepExtraDockerds()` does the same for owners that are gone.
 * Starting one and loading the ~25 MB test image takes about 1-2 s.
 *
 * With `netns` it runs inside that network namespace (a simulated host): there it owns the
 * namespace's own iptables (NAT for published ports, masquerade out of its networks), which no
 * other engine shares, so `--iptables=false` is not given and `allowSubnet` is not needed.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DockerEngine } from "./dockerEngine";

const DIR_PREFIX = "rod-e2e-dockerd-";
const OWNER_FILE = "owner.pid";

export interface ExtraDockerd {
  engine: DockerEngine;
  dir: string;
  pid: number;
  /** Lets containers on `subnet` (a network of this engine) reach each other through the host's FORWARD chain. */
  allowSubnet(subnet: string): void;
  /** Removes its FORWARD rules, stops the daemon (SIGTERM, then SIGKILL after a bound) and removes its dir. Idempotent. */
  stop(): Promise<void>;
}

const RULE_COMMENT = "rod-e2e-dockerd owner=";

function iptables(args: string[]): string {
  return execFileSync("iptables", ["-w", "10", ...args], { timeout: 20_000, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** The tagged FORWARD rules that `match` (owner pid, subnet) picks, as arguments for `iptables -D FORWARD`. */
function forwardRules(match: (owner: number, subnet: string) => boolean): string[][] {
  let listing: string;
  try {
    listing = iptables(["-S", "FORWARD"]);
  } catch {
    return []; // no iptables here: nothing filters, nothing to remove
  }
  const rules: string[][] = [];
  for (const line of listing.split("\n")) {
    const m = new RegExp(`^-A FORWARD -s (\\S+) -d (\\S+) -m comment --comment "?${RULE_COMMENT}(\\d+)"? -j ACCEPT$`).exec(line.trim());
    if (m && match(Number(m[3]), m[1])) rules.push(["-s", m[1], "-d", m[2], "-m", "comment", "--comment", `${RULE_COMMENT}${m[3]}`, "-j", "ACCEPT"]);
  }
  return rules;
}

function removeForwardRules(match: (owner: number, subnet: string) => boolean): void {
  for (const rule of forwardRules(match)) iptables(["-D", "FORWARD", ...rule]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A dockerd whose command line names `dir` (so a recycled pid is never killed by mistake). */
function dockerdPidIn(dir: string): number | undefined {
  const pid = Number(readFileIfExists(path.join(dir, "docker.pid")) ?? readFileIfExists(path.join(dir, "spawned.pid")) ?? NaN);
  if (!Number.isInteger(pid) || !alive(pid)) return undefined;
  const cmdline = readFileIfExists(`/proc/${pid}/cmdline`) ?? "";
  return cmdline.includes(dir) ? pid : undefined;
}

function readFileIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((res) => setTimeout(res, 100));
  }
  return true;
}

/** Unmounts what the daemon may have left mounted under `dir` (deepest first), then removes it. */
function removeDir(dir: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync("umount", ["-l", m], { timeout: 10_000, stdio: "ignore" });
    } catch {
      /* already gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

async function stopIn(dir: string): Promise<void> {
  const pid = dockerdPidIn(dir);
  if (pid !== undefined) {
    process.kill(pid, "SIGTERM");
    if (!(await waitGone(pid, 15_000))) {
      process.kill(pid, "SIGKILL");
      await waitGone(pid, 5_000);
    }
  }
  // Its managed containerd lives in the exec root and ends with it.
  removeDir(dir);
}

/** Removes extra dockerds (and their dirs) whose owning process is gone. */
export async function sweepExtraDockerds(): Promise<void> {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(DIR_PREFIX))) {
    const dir = path.join(tmpdir(), name);
    const owner = Number(readFileIfExists(path.join(dir, OWNER_FILE)) ?? NaN);
    if (Number.isInteger(owner) && alive(owner)) continue;
    await stopIn(dir);
  }
  removeForwardRules((owner) => !alive(owner));
}

/**
 * Starts a dockerd with `daemonArgs` (e.g. ["--log-opt", "max-size=10m"]) and copies `images`
 * from `from` into it (image save -> load through the Engine API; nothing is pulled).
 */
export async function startExtraDockerd(opts: { daemonArgs: string[]; images: string[]; from: DockerEngine; timeoutMs?: number; netns?: string }): Promise<ExtraDockerd> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const dir = mkdtempSync(path.join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  writeFileSync(path.join(dir, OWNER_FILE), String(process.pid));
  const socket = path.join(dir, "docker.sock");
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    removeForwardRules((owner, subnet) => owner === process.pid && subnets.has(subnet));
    await stopIn(dir);
  };
  const subnets = new Set<string>();
  const allowSubnet = (subnet: string): void => {
    subnets.add(subnet);
    try {
      iptables(["-I", "FORWARD", "1", "-s", subnet, "-d", subnet, "-m", "comment", "--comment", `${RULE_COMMENT}${process.pid}`, "-j", "ACCEPT"]);
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
      if (!missing) throw new Error(`could not allow ${subnet} through the host's FORWARD chain: ${(e as Error).message}`);
      // No iptables binary: no rules filter bridged traffic either.
    }
  };
  try {
    const log = path.join(dir, "dockerd.log");
    const fd = openSync(log, "a");
    const dockerdArgs = [
      "--data-root", path.join(dir, "root"),
      "--exec-root", path.join(dir, "exec"),
      "--pidfile", path.join(dir, "docker.pid"),
      "--host", `unix://${socket}`,
      "--bridge=none",
      ...(opts.netns === undefined ? ["--iptables=false"] : []),
      "--ip6tables=false",
      ...opts.daemonArgs,
    ];
    // nsenter switches only the network namespace and execs dockerd in place (the spawned pid is
    // the daemon's); `ip netns exec` would also remount /sys, hiding the cgroup mounts dockerd needs.
    const [command, args] = opts.netns === undefined ? ["dockerd", dockerdArgs] : ["nsenter", [`--net=/var/run/netns/${opts.netns}`, "dockerd", ...dockerdArgs]];
    const child = spawn(command, args, { stdio: ["ignore", fd, fd], detached: false });
    closeSync(fd);
    // A failed spawn shows as a missing pid (thrown below); its 'error' event comes after and must not crash mocha.
    child.on("error", () => undefined);
    if (child.pid === undefined) throw new Error(`${command} could not be spawned (is ${command === "nsenter" ? "util-linux" : "docker.io"} installed?)`);
    writeFileSync(path.join(dir, "spawned.pid"), String(child.pid));
    child.unref();
    const engine = new DockerEngine(socket);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (existsSync(socket) && (await engine.ping(2000).then(() => true, () => false))) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        const tail = (readFileIfExists(log) ?? "").split("\n").slice(-15).join("\n");
        throw new Error(`the extra dockerd (${opts.daemonArgs.join(" ")}) did not answer within ${timeoutMs} ms; its log:\n${tail}`);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    for (const image of opts.images) {
      const { body } = await opts.from.requestRaw({ method: "GET", path: `/images/${encodeURIComponent(image)}/get`, timeoutMs });
      await engine.requestRaw({ method: "POST", path: "/images/load?quiet=1", body, timeoutMs });
    }
    return { engine, dir, pid: child.pid, allowSubnet, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
