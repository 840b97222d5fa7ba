/**
 * Simulated Docker hosts on one machine: one Linux network namespace per host, each joined by a
 * veth pair to a bridge in the root namespace, which holds the gateway address. Processes run
 * inside a host with `ip netns exec`; clients stay in the root namespace and reach every host
 * through the bridge. Needs root and iproute2.
 *
 * Everything is named with a per-run prefix and lives in a /24 of 10.231.0.0/16 that no
 * interface of the machine uses, so parallel runs and other tests never meet. `destroy()`
 * kills every process left in the namespaces and removes namespaces and links; it also runs
 * when the process exits or is interrupted (registerExitCleanup), so a failed or killed run
 * leaves nothing behind.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import { registerExitCleanup, type LocalHostPlacement } from "@redis-on-docker/local";

export interface SimulatedHost extends LocalHostPlacement {
  /** The root-namespace end of the host's veth pair (what `cut` takes down). */
  link: string;
}

/** Runs `ip` (or another iproute2 tool) synchronously, bounded; throws with its stderr on failure. */
function run(command: string, args: string[], { allowFail = false } = {}): string {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 10_000 });
  if (!allowFail && (result.error !== undefined || result.status !== 0)) {
    throw new Error(`${command} ${args.join(" ")} failed: ${result.error?.message ?? result.stderr.trim()}`);
  }
  return result.stdout ?? "";
}

/** Whether this process can make namespaces (root with iproute2): the reason it cannot, else undefined. */
export function simulatedHostsUnavailable(): string | undefined {
  if (process.platform !== "linux") return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "network namespaces need root (ip netns add)";
  const probe = spawnSync("ip", ["-V"], { encoding: "utf8", timeout: 5000 });
  if (probe.error !== undefined) return `iproute2's ip is not installed (${probe.error.message})`;
  return undefined;
}

/** A /24 of 10.231.0.0/16 that no address or route of the machine touches. */
function freeSubnet(): string {
  const used = run("ip", ["-4", "-o", "addr", "show"]) + run("ip", ["-4", "route", "show", "table", "all"], { allowFail: true });
  for (let attempt = 0; attempt < 50; attempt++) {
    const third = 1 + crypto.randomInt(250);
    const prefix = `10.231.${third}.`;
    if (!used.includes(prefix)) return prefix;
  }
  throw new Error("no free /24 in 10.231.0.0/16 for the simulated hosts");
}

export class SimulatedHosts {
  readonly hosts: SimulatedHost[];
  /** The root namespace's address on the bridge (what the hosts see clients come from). */
  readonly gateway: string;
  private destroyed = false;
  private forwardRuleAdded = false;
  private readonly partitioned = new Set<string>();
  private readonly unregister: () => void;

  private constructor(
    private readonly prefix: string,
    private readonly bridge: string,
    subnet: string,
    names: string[],
  ) {
    this.gateway = `${subnet}1`;
    this.hosts = names.map((name, i) => ({
      name,
      address: `${subnet}${11 + i}`,
      netns: `${prefix}-${name}`,
      link: `${prefix}v${i}`,
    }));
    this.unregister = registerExitCleanup({ processes: () => [], paths: () => [], run: () => this.destroySync() });
  }

  /**
   * Makes `names.length` hosts. On any failure, what was made is removed before it throws.
   * Interface names stay within Linux's 15 characters: prefix (7) + `br` / `v<i>`.
   */
  static create(names: string[]): SimulatedHosts {
    const prefix = `r20${crypto.randomBytes(2).toString("hex")}`;
    const hosts = new SimulatedHosts(prefix, `${prefix}br`, freeSubnet(), names);
    try {
      hosts.build();
    } catch (error) {
      hosts.destroySync();
      throw error;
    }
    return hosts;
  }

  private build(): void {
    run("ip", ["link", "add", this.bridge, "type", "bridge"]);
    // Docker loads br_netfilter, which sends bridged frames through iptables FORWARD (policy
    // DROP): one rule of ours, tagged with the run prefix, lets host-to-host frames pass.
    if (this.forwardRuleNeeded()) {
      run("iptables", ["-I", "FORWARD", "1", ...this.forwardRule()]);
      this.forwardRuleAdded = true;
    }
    run("ip", ["addr", "add", `${this.gateway}/24`, "dev", this.bridge]);
    run("ip", ["link", "set", this.bridge, "up"]);
    for (const host of this.hosts) {
      const peer = `${host.link}p`;
      run("ip", ["netns", "add", host.netns]);
      run("ip", ["link", "add", host.link, "type", "veth", "peer", "name", peer]);
      run("ip", ["link", "set", peer, "netns", host.netns]);
      run("ip", ["link", "set", host.link, "master", this.bridge]);
      run("ip", ["link", "set", host.link, "up"]);
      const inHost = (...args: string[]): string => run("ip", ["netns", "exec", host.netns, "ip", ...args]);
      inHost("link", "set", "lo", "up");
      inHost("link", "set", peer, "name", "eth0");
      inHost("addr", "add", `${host.address}/24`, "dev", "eth0");
      inHost("link", "set", "eth0", "up");
      inHost("route", "add", "default", "via", this.gateway);
    }
  }

  private forwardRule(): string[] {
    return ["-i", this.bridge, "-o", this.bridge, "-j", "ACCEPT", "-m", "comment", "--comment", `${this.prefix} simulated hosts`];
  }

  /** Only when bridged frames go through iptables at all (br_netfilter loaded and on). */
  private forwardRuleNeeded(): boolean {
    const result = spawnSync("sysctl", ["-n", "net.bridge.bridge-nf-call-iptables"], { encoding: "utf8", timeout: 5000 });
    return result.status === 0 && result.stdout.trim() === "1";
  }

  host(name: string): SimulatedHost {
    const host = this.hosts.find((h) => h.name === name);
    if (host === undefined) throw new Error(`no simulated host ${JSON.stringify(name)}; hosts are ${this.hosts.map((h) => h.name).join(", ")}`);
    return host;
  }

  /** Cuts the host off from the bridge (and so from every other host and every client); its processes keep running. */
  cut(name: string): void {
    run("ip", ["link", "set", this.host(name).link, "down"]);
  }

  /**
   * Partitions the host from the other hosts only: its frames to and from the other hosts are
   * dropped (two FORWARD rules of ours, tagged), while this namespace (the clients) still reaches it.
   */
  partition(name: string): void {
    for (const rule of this.partitionRules(name)) run("iptables", ["-I", "FORWARD", "1", ...rule]);
    this.partitioned.add(name);
  }

  /** Undoes `partition`. */
  heal(name: string): void {
    for (const rule of this.partitionRules(name)) run("iptables", ["-D", "FORWARD", ...rule], { allowFail: true });
    this.partitioned.delete(name);
  }

  private partitionRules(name: string): string[][] {
    const link = this.host(name).link;
    const tag = ["-m", "comment", "--comment", `${this.prefix} partition ${name}`];
    return [
      ["-m", "physdev", "--physdev-in", link, "-j", "DROP", ...tag],
      ["-m", "physdev", "--physdev-out", link, "-j", "DROP", ...tag],
    ];
  }

  /** Undoes `cut`. */
  restore(name: string): void {
    run("ip", ["link", "set", this.host(name).link, "up"]);
  }

  /** Pids of the processes running in the host's namespace. */
  pids(name: string): number[] {
    return run("ip", ["netns", "pids", this.host(name).netns], { allowFail: true })
      .split(/\s+/)
      .filter((p) => p !== "")
      .map(Number);
  }

  /** Kills every process left in the namespaces, then removes namespaces, veths and the bridge. Idempotent. */
  destroy(): void {
    this.destroySync();
  }

  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.unregister?.();
    for (const name of [...this.partitioned]) this.heal(name);
    for (const host of this.hosts) {
      for (const pid of this.pids(host.name)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      run("ip", ["netns", "del", host.netns], { allowFail: true });
      // Deleting the namespace deletes its veth end and so the pair; this covers a half-built host.
      run("ip", ["link", "del", host.link], { allowFail: true });
    }
    run("ip", ["link", "del", this.bridge], { allowFail: true });
    if (this.forwardRuleAdded) run("iptables", ["-D", "FORWARD", ...this.forwardRule()], { allowFail: true });
  }

  /** Whether anything of this run is left (for the tests of this module). */
  leftovers(): string[] {
    const namespaces = run("ip", ["netns", "list"], { allowFail: true });
    const links = run("ip", ["-o", "link", "show"], { allowFail: true });
    return [
      ...this.hosts.filter((h) => namespaces.includes(h.netns)).map((h) => `netns ${h.netns}`),
      ...(links.includes(`${this.prefix}`) ? [`links named ${this.prefix}*`] : []),
      ...(run("iptables", ["-S", "FORWARD"], { allowFail: true }).includes(this.prefix) ? [`iptables rule tagged ${this.prefix}`] : []),
    ];
  }
}
