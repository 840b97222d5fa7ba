/**
 * What "ready" means for the cluster, checked from outside: every node's CLUSTER NODES agrees on
 * 3 masters serving all slots, one replica under each, nobody failing or without an address.
 * Nodes are reached on 127.0.0.1 at each seed's port (local processes, or Docker's published ports).
 */
import type { Endpoint } from "@redis-on-docker/connector";
import { probeRedis } from "../../infra/local/redisProbe";

/** One node's `CLUSTER NODES` line, parsed. */
export interface NodeLine {
  id: string;
  flags: string[];
  masterId: string;
  slots: string[];
}

export function parseClusterNodes(text: string): NodeLine[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((l) => {
      const [id, , flags, masterId, , , , , ...slots] = l.split(" ");
      return { id, flags: flags.split(","), masterId, slots };
    });
}

function slotCount(ranges: string[]): number {
  return ranges
    .filter((r) => !r.startsWith("["))
    .reduce((sum, r) => {
      const [from, to] = r.split("-").map(Number);
      return sum + (to === undefined ? 1 : to - from + 1);
    }, 0);
}

/**
 * Every node's view of the cluster, once they all agree on the planned shape (3 masters that
 * together serve 16384 slots, one replica under each, no node failing, in handshake or without
 * an address); throws with the views otherwise. Returns the agreed view, by node id.
 */
export async function agreedView(seeds: Endpoint[], password: string): Promise<Map<string, NodeLine>> {
  const views = await Promise.all(
    seeds.map(async (seed) => parseClusterNodes(String(await probeRedis(seed.port, ["CLUSTER", "NODES"], { password, timeoutMs: 2000 })))),
  );
  const shape = (view: NodeLine[]): string =>
    view
      .map((n) => `${n.id} ${n.flags.filter((f) => f !== "myself").join(",")} ${n.masterId} ${n.slots.join(",")}`)
      .sort()
      .join("\n");
  const problems: string[] = [];
  for (const [i, view] of views.entries()) {
    if (shape(view) !== shape(views[0])) problems.push(`127.0.0.1:${seeds[i].port} disagrees with 127.0.0.1:${seeds[0].port}`);
    for (const n of view) {
      const bad = n.flags.filter((f) => ["fail", "fail?", "handshake", "noaddr"].includes(f));
      if (bad.length) problems.push(`127.0.0.1:${seeds[i].port} sees ${n.id} as ${bad.join(",")}`);
    }
  }
  const view = views[0];
  const masters = view.filter((n) => n.flags.includes("master"));
  if (view.length !== 6) problems.push(`${view.length} nodes known, not 6`);
  if (masters.length !== 3) problems.push(`${masters.length} masters, not 3`);
  if (slotCount(masters.flatMap((m) => m.slots)) !== 16384) problems.push("masters do not serve all 16384 slots");
  for (const m of masters) {
    const replicas = view.filter((n) => n.masterId === m.id);
    if (replicas.length !== 1) problems.push(`master ${m.id} has ${replicas.length} replicas, not 1`);
  }
  if (problems.length) throw new Error(`the nodes do not agree on 3 masters + 3 replicas:\n  ${problems.join("\n  ")}\n${views.map(shape).join("\n--\n")}`);
  return new Map(view.map((n) => [n.id, n]));
}

