/**
 * Whether every node of a cluster sees the same topology, read straight from each node's
 * CLUSTER NODES (independently of the bootstrap script's own check, which it tests).
 */
import type { Endpoint } from "@redis-on-docker/connector";
import { probeRedis } from "../../local/src/redisProbe";
import { parseClusterNodes, type ClusterNodeInfo } from "../reliability/support/clusterProbe";

const BAD_FLAGS = ["handshake", "fail?", "fail", "noaddr"];

/** One node's view as a comparable text: `id role slots|master`, sorted. */
function canonical(view: ClusterNodeInfo[]): string {
  return view
    .map((n) => `${n.id} ${n.role} ${n.role === "master" ? n.slots.map(([a, b]) => `${a}-${b}`).join(",") : n.masterId}`)
    .sort()
    .join("\n");
}

/** What is wrong with one view of a `masters` x (1 + `replicasPerMaster`) cluster; empty when nothing. */
function viewProblems(view: ClusterNodeInfo[], nodeCount: number, masters: number, replicasPerMaster: number): string[] {
  const problems: string[] = [];
  if (view.length !== nodeCount) problems.push(`lists ${view.length} of ${nodeCount} nodes`);
  for (const n of view) {
    const bad = n.flags.filter((f) => BAD_FLAGS.includes(f));
    if (bad.length > 0) problems.push(`${n.host}:${n.port} is ${bad.join(",")}`);
  }
  const withSlots = view.filter((n) => n.role === "master" && n.slots.length > 0);
  const slotless = view.filter((n) => n.role === "master" && n.slots.length === 0);
  if (withSlots.length !== masters) problems.push(`${withSlots.length} masters with slots, not ${masters}`);
  if (slotless.length > 0) problems.push(`masters without slots: ${slotless.map((n) => `${n.host}:${n.port}`).join(" ")}`);
  const slots = withSlots.reduce((sum, m) => sum + m.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
  if (slots !== 16384) problems.push(`masters serve ${slots} of 16384 slots`);
  for (const m of withSlots) {
    const replicas = view.filter((n) => n.role === "replica" && n.masterId === m.id).length;
    if (replicas < replicasPerMaster) problems.push(`${m.host}:${m.port} has ${replicas} of ${replicasPerMaster} replicas`);
  }
  return problems;
}

/**
 * Reads every node's CLUSTER NODES at once (bounded) and returns the disagreements and
 * problems found, one line per node; empty when every node sees the same healthy cluster.
 */
export async function clusterDisagreements(nodes: Endpoint[], password: string, replicasPerMaster: number): Promise<string[]> {
  const masters = Math.floor(nodes.length / (replicasPerMaster + 1));
  const texts = await Promise.all(
    nodes.map((n) => probeRedis(n.port, ["CLUSTER", "NODES"], { host: n.host, password, timeoutMs: 2000 }).then(String)),
  );
  const views = texts.map(parseClusterNodes);
  const reference = canonical(views[0]);
  const report: string[] = [];
  views.forEach((view, i) => {
    const problems = viewProblems(view, nodes.length, masters, replicasPerMaster);
    if (i > 0 && canonical(view) !== reference) problems.push(`differs from ${nodes[0].host}:${nodes[0].port}'s view`);
    if (problems.length > 0) report.push(`${nodes[i].host}:${nodes[i].port}: ${problems.join("; ")}`);
  });
  return report;
}

/**
 * The agreed view of a 3-master x 1-replica cluster, by node id, once every node reports the
 * same healthy topology; throws with every node's problems otherwise. Nodes are reached at each
 * seed's host and port (local processes, or Docker's published ports on 127.0.0.1).
 */
export async function agreedView(seeds: Endpoint[], password: string): Promise<Map<string, ClusterNodeInfo>> {
  const problems = await clusterDisagreements(seeds, password, 1);
  if (problems.length > 0) throw new Error(`the nodes do not agree on 3 masters + 3 replicas:\n  ${problems.join("\n  ")}`);
  const text = String(await probeRedis(seeds[0].port, ["CLUSTER", "NODES"], { host: seeds[0].host, password, timeoutMs: 2000 }));
  return new Map(parseClusterNodes(text).map((n) => [n.id, n]));
}
