/**
 * Direct, bounded looks at real Redis nodes for the reliability tests: who is master of
 * what (CLUSTER NODES), which keys land on which master (CLUSTER KEYSLOT), and polling with
 * a deadline. Uses short-lived ioredis connections that never retry, so a dead node gives
 * an error quickly instead of a hang. Only commands Redis 5.0 has.
 */
import Redis from "ioredis";
import type { Endpoint } from "@redis-on-docker/connector";

/** Bound on connecting to one node and on each command sent to it. */
const PROBE_TIMEOUT_MS = 1500;

export interface ClusterNodeInfo {
  id: string;
  host: string;
  port: number;
  role: "master" | "replica";
  /** Node id of the master this replica follows. */
  masterId?: string;
  /** `fail`, `pfail`, `myself`, ... as CLUSTER NODES lists them. */
  flags: string[];
  /** Slot ranges `[first, last]` this master serves. */
  slots: Array<[number, number]>;
}

/** Runs `use` on a fresh connection to one node, which is always closed afterwards. */
export async function withNode<T>(node: Endpoint, password: string, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    host: node.host,
    port: node.port,
    password: password === "" ? undefined : password,
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    commandTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // A probe that fails is reported by its caller; unhandled 'error' events would crash mocha.
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [id, address, flagText, masterId, , , , , ...slotFields] = line.split(" ");
      // `ip:port@busport` (Redis 4+), optionally `,hostname` (Redis 7).
      const hostPort = address.split("@")[0];
      const colon = hostPort.lastIndexOf(":");
      const flags = flagText.split(",");
      const slots: Array<[number, number]> = [];
      for (const field of slotFields) {
        if (field.startsWith("[")) continue; // slot being migrated/imported
        const [first, last] = field.split("-").map(Number);
        slots.push([first, last ?? first]);
      }
      const info: ClusterNodeInfo = {
        id,
        host: hostPort.slice(0, colon),
        port: Number(hostPort.slice(colon + 1)),
        role: flags.includes("master") ? "master" : "replica",
        flags,
        slots,
      };
      if (masterId !== "-") info.masterId = masterId;
      return info;
    });
}

export async function clusterNodes(node: Endpoint, password: string): Promise<ClusterNodeInfo[]> {
  return withNode(node, password, async (redis) => parseClusterNodes(String(await redis.call("CLUSTER", "NODES"))));
}

/** The master that serves `slot` in a CLUSTER NODES view. */
export function masterOfSlot(nodes: ClusterNodeInfo[], slot: number): ClusterNodeInfo | undefined {
  return nodes.find((n) => n.role === "master" && !n.flags.includes("fail") && n.slots.some(([a, b]) => slot >= a && slot <= b));
}

/**
 * Picks `perMaster` keys named `<prefix><n>` for every master, asking the server for each
 * key's slot, so a workload provably touches all masters. Returns key -> master node id.
 */
export async function keysOnEveryMaster(
  node: Endpoint,
  password: string,
  prefix: string,
  perMaster: number,
): Promise<Map<string, string>> {
  return withNode(node, password, async (redis) => {
    const nodes = parseClusterNodes(String(await redis.call("CLUSTER", "NODES")));
    const masters = nodes.filter((n) => n.role === "master");
    const chosen = new Map<string, string>();
    const perMasterCount = new Map<string, number>();
    for (let n = 0; n < perMaster * masters.length * 20 && chosen.size < perMaster * masters.length; n++) {
      const key = `${prefix}${n}`;
      const slot = Number(await redis.call("CLUSTER", "KEYSLOT", key));
      const master = masterOfSlot(nodes, slot);
      if (master === undefined) throw new Error(`slot ${slot} of ${key} has no master in CLUSTER NODES`);
      const count = perMasterCount.get(master.id) ?? 0;
      if (count < perMaster) {
        chosen.set(key, master.id);
        perMasterCount.set(master.id, count + 1);
      }
    }
    if (chosen.size < perMaster * masters.length) throw new Error(`could not find ${perMaster} keys on each of ${masters.length} masters`);
    return chosen;
  });
}

/**
 * Polls `probe` every `intervalMs` until it returns a value, for at most `timeoutMs`.
 * Probe errors count as "not yet" (a node may be down on purpose); the last one is reported.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "";
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastProblem = ` (last probe error: ${(error as Error).message})`;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastProblem}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
