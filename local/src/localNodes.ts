/**
 * The plan's nodes as redis-server processes on 127.0.0.1: each in its own 0700 dir under
 * the stack dir, with its redis.conf (0600; the password is only there) rendered from the
 * plan with loopback overrides, on a free port. A node whose process dies at start-up
 * (typically: someone took the probed port) is retried on fresh ports.
 */
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { renderRedisConf, type NodePlan, type NodeRole } from "@redis-on-docker/topology";
import { CLUSTER_BUS_PORT_OFFSET, findFreePorts } from "./freePorts";
import {
  isAlive,
  startRedisServer,
  terminateProcesses,
  waitUntilServing,
  type ProcessIdentity,
  type StartedRedis,
} from "./processControl";

export const LOCAL_HOST = "127.0.0.1";
/** Bound on a node answering after its process starts. */
const NODE_START_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;

/** One redis-server of a local stack. `pid` changes when the node is restarted. */
export interface LocalNode {
  readonly name: string;
  readonly role: NodeRole;
  /** Address clients reach the node at: 127.0.0.1, or its simulated host's address. */
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** Multi-host stacks: the name of the simulated host the node runs on. */
  readonly hostName?: string;
}

/** A simulated host: a network namespace that the caller made, reachable at `address`. */
export interface LocalHostPlacement {
  /** `HostSpec.name` of the plan. */
  name: string;
  address: string;
  /** Network namespace (`ip netns`) the host's redis-server processes run in. */
  netns: string;
}

export interface LocalNodeSettings {
  /** Stack dir (0700); each node gets `<dir>/<name>/`. */
  dir: string;
  /** `""` for none. */
  password: string;
  /** Own process group, so the process outlives ours. */
  detached: boolean;
  /** Called right after a process is spawned (e.g. to save its pid before it answers). */
  onProcessStarted?: (node: LocalRedisNode) => void;
  /**
   * Multi-host stacks: the node's simulated host. The node then runs inside its namespace on
   * its planned published port (`hostPort`), bound to the host's address, which it announces.
   */
  placement?: LocalHostPlacement;
}

export class LocalRedisNode implements LocalNode {
  private process: StartedRedis | undefined;
  readonly dir: string;
  private currentPort = 0;

  constructor(
    readonly plan: NodePlan,
    private readonly settings: LocalNodeSettings,
  ) {
    this.dir = path.join(settings.dir, plan.name);
  }

  get name(): string {
    return this.plan.name;
  }
  get host(): string {
    return this.settings.placement?.address ?? LOCAL_HOST;
  }
  get hostName(): string | undefined {
    return this.settings.placement?.name;
  }
  /** On a simulated host, the port is the plan's: it is what the node announces. */
  get fixedPort(): number | undefined {
    return this.settings.placement === undefined ? undefined : this.plan.hostPort;
  }

  /** Printing a node shows what it is, never its settings (they hold the password). */
  [util.inspect.custom](): string {
    return `LocalRedisNode { name: ${this.name}, role: ${this.role}, host: ${this.host}, port: ${this.currentPort}, dir: ${this.dir} }`;
  }
  get role(): NodeRole {
    return this.plan.role;
  }
  get port(): number {
    return this.currentPort;
  }
  get pid(): number {
    return this.process?.pid ?? -1;
  }
  get configPath(): string {
    return path.join(this.dir, "redis.conf");
  }
  get logPath(): string {
    return path.join(this.dir, "redis.log");
  }
  /** redis-server's own stdout/stderr: config errors land here before the logfile is open. */
  get consolePath(): string {
    return path.join(this.dir, "console.log");
  }

  identity(): ProcessIdentity | undefined {
    return this.process && { pid: this.process.pid, startTime: this.process.startTime };
  }

  running(): boolean {
    return this.process !== undefined && !this.process.hasExited() && isAlive(this.process);
  }

  /** The last lines of the node's log, for error messages. */
  logTail(lines = 5): string {
    for (const file of [this.logPath, this.consolePath]) {
      try {
        const text = fs.readFileSync(file, "utf8").trimEnd();
        if (text !== "") return text.split("\n").slice(-lines).join(" | ");
      } catch {
        // Not written yet.
      }
    }
    return "empty";
  }

  /** Starts the process on `port` (default: the current one) and waits until it serves. */
  async start(port = this.currentPort): Promise<void> {
    this.currentPort = port;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const overrides = {
      port: String(port),
      bind: this.host,
      dir: this.dir,
      logfile: this.logPath,
      daemonize: "no",
    };
    writePrivateFile(this.configPath, renderRedisConf(this.plan, this.settings.password, overrides));
    const consoleFd = fs.openSync(this.consolePath, "a", 0o600);
    let started: StartedRedis;
    try {
      started = startRedisServer(this.configPath, {
        detached: this.settings.detached,
        cwd: this.dir,
        output: consoleFd,
        ...(this.settings.placement ? { netns: this.settings.placement.netns } : {}),
      });
    } finally {
      fs.closeSync(consoleFd);
    }
    this.process = started;
    this.settings.onProcessStarted?.(this);
    try {
      await waitUntilServing(started.pid, port, this.settings.password, Date.now() + NODE_START_TIMEOUT_MS, () => !started.hasExited(), this.host);
    } catch (error) {
      if (this.running()) await terminateProcesses([this.identity() as ProcessIdentity], 500);
      throw new Error(`${this.name}: ${(error as Error).message}; log: ${this.logTail()}`);
    }
  }
}

/** Writes a file only its owner can read, also when it exists already. */
export function writePrivateFile(file: string, text: string): void {
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/**
 * Starts all `nodes` (in parallel) on free ports: cluster nodes with their bus port
 * (port + 10000) free too, and no node on another's bus port. Rejects when a node fails
 * `START_ATTEMPTS` times; the caller stops whatever did start.
 */
export async function startLocalNodes(nodes: LocalRedisNode[], log: (line: string) => void): Promise<void> {
  // Nodes on simulated hosts have their namespace's ports to themselves: the plan's ports, no retry.
  const placed = nodes.filter((n) => n.fixedPort !== undefined);
  for (const node of placed) log(`  ${node.name} (${node.role}) on ${node.hostName} ${node.host}:${node.fixedPort}`);
  await Promise.all(placed.map((node) => node.start(node.fixedPort)));
  nodes = nodes.filter((n) => n.fixedPort === undefined);
  if (nodes.length === 0) return;
  const clusterNodes = nodes.filter((n) => n.role === "cluster");
  const otherNodes = nodes.filter((n) => n.role !== "cluster");
  const clusterPorts = await findFreePorts(clusterNodes.length, { withBusPort: true });
  const otherPorts = await findFreePorts(otherNodes.length, {
    withBusPort: false,
    exclude: clusterPorts.flatMap((p) => [p, p + CLUSTER_BUS_PORT_OFFSET]),
  });
  const assigned = new Map<LocalRedisNode, number>();
  clusterNodes.forEach((n, i) => assigned.set(n, clusterPorts[i]));
  otherNodes.forEach((n, i) => assigned.set(n, otherPorts[i]));
  for (const node of nodes) log(`  ${node.name} (${node.role}) on ${LOCAL_HOST}:${assigned.get(node)}`);
  log(`waiting for the ${nodes.length} processes to answer`);

  await Promise.all(
    nodes.map(async (node) => {
      let port = assigned.get(node) as number;
      for (let attempt = 1; ; attempt++) {
        try {
          await node.start(port);
          return;
        } catch (error) {
          if (attempt >= START_ATTEMPTS) throw new Error(`${node.name} did not start: ${(error as Error).message}`);
          const taken = [...assigned.values()].flatMap((p) => [p, p + CLUSTER_BUS_PORT_OFFSET]);
          [port] = await findFreePorts(1, { withBusPort: node.role === "cluster", exclude: taken });
          assigned.set(node, port);
          log(`  ${(error as Error).message}; retrying on ${LOCAL_HOST}:${port}`);
        }
      }
    }),
  );
}
