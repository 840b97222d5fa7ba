/**
 * What every contender does: the keys, the value and the batch shapes, so contenders
 * differ only in the client under test.
 */
import type { Cluster, Redis } from "ioredis";

/** Keys GET/SET cycle through; in a cluster they hash to slots on every master. */
export const KEY_COUNT = 1000;
/** 3 bytes, redis-benchmark's default value size (`-d 3`), so the ceiling is comparable. */
export const VALUE = "xyz";
/** Commands in one pipeline batch (half SET, half GET, alternating). */
export const PIPELINE_SIZE = 100;
/** In-flight commands of the concurrent rows. */
export const CONCURRENCY = 50;

export const KEYS: readonly string[] = Array.from({ length: KEY_COUNT }, (_, i) => `bench:key:${i}`);

export function keyAt(i: number): string {
  return KEYS[i % KEY_COUNT];
}

/** Writes every key once, so that GETs read a value. */
export async function populate(client: Redis | Cluster): Promise<void> {
  await Promise.all(KEYS.map((key) => client.set(key, VALUE)));
}

/**
 * Key groups for pipelines on a cluster. ioredis sends a cluster pipeline to one node, so
 * each batch uses one hash tag; the tags are picked so that consecutive batches rotate
 * over every master. Returns, per master, the PIPELINE_SIZE / 2 keys of its batch.
 */
export async function pipelineKeyGroups(cluster: Cluster): Promise<string[][]> {
  const masters = new Set<string>();
  for (const owners of cluster.slots) if (owners !== undefined && owners.length > 0) masters.add(owners[0]);
  const groups = new Map<string, string[]>();
  for (let tag = 0; groups.size < masters.size; tag++) {
    if (tag > 10_000) throw new Error(`could not find hash tags for all ${masters.size} masters`);
    const slot = Number(await cluster.call("CLUSTER", "KEYSLOT", `{t${tag}}`));
    const master = cluster.slots[slot]?.[0];
    if (master !== undefined && !groups.has(master)) {
      groups.set(master, Array.from({ length: PIPELINE_SIZE / 2 }, (_, i) => `bench:{t${tag}}:${i}`));
    }
  }
  return [...groups.values()];
}

/** Masters the sequential keys land on (for the record: they must cover all of them). */
export async function mastersCovered(cluster: Cluster): Promise<{ covered: number; masters: number }> {
  const masters = new Set<string>();
  for (const owners of cluster.slots) if (owners !== undefined && owners.length > 0) masters.add(owners[0]);
  const covered = new Set<string>();
  for (const key of KEYS.slice(0, 50)) {
    const slot = Number(await cluster.call("CLUSTER", "KEYSLOT", key));
    const master = cluster.slots[slot]?.[0];
    if (master !== undefined) covered.add(master);
  }
  return { covered: covered.size, masters: masters.size };
}
