/**
 * Contenders built on ioredis's promise API: raw ioredis and the connector's async client
 * (sequential, concurrent, pipelined), and redis-benchmark as the server-side ceiling.
 */
import type { Cluster, Redis } from "ioredis";
import { waitUntilReady } from "@redis-on-docker/connector";
import { measureConcurrent, measureSequential, type Contender } from "./measure";
import { runRedisBenchmark } from "./redisBenchmark";
import { CONCURRENCY, keyAt, PIPELINE_SIZE, VALUE } from "./workload";

type AsyncRedis = Redis | Cluster;

export function sequentialGet(id: string, client: AsyncRedis): Contender {
  return { id, measure: (budgetMs) => measureSequential(budgetMs, (i) => client.get(keyAt(i))) };
}

export function sequentialSet(id: string, client: AsyncRedis): Contender {
  return { id, measure: (budgetMs) => measureSequential(budgetMs, (i) => client.set(keyAt(i), VALUE)) };
}

const READY_TIMEOUT_MS = 10_000;
/** Untimed commands on a new connection before timing starts. */
const SETTLE_MS = 5;

/**
 * CONCURRENCY await-loops sharing one client, on a client (so a connection) opened for
 * this measurement and closed after it. With many commands in flight, a connection
 * settles into a batching pattern (commands per packet, replies per read) that can hold
 * for its whole life and make two identical clients differ by 10-25 % for a whole run;
 * a fresh connection per round makes that a random effect the median removes.
 */
export function concurrentOnFreshClient(id: string, open: () => AsyncRedis, command: "get" | "set"): Contender {
  return {
    id,
    async measure(budgetMs) {
      const client = open();
      try {
        await waitUntilReady(client, READY_TIMEOUT_MS);
        const step = command === "get" ? (i: number) => client.get(keyAt(i)) : (i: number) => client.set(keyAt(i), VALUE);
        await measureConcurrent(SETTLE_MS, CONCURRENCY, step);
        return await measureConcurrent(budgetMs, CONCURRENCY, step);
      } finally {
        client.disconnect();
      }
    },
  };
}

/**
 * One `pipeline().exec()` of PIPELINE_SIZE commands (SET k, GET k for PIPELINE_SIZE / 2
 * keys) per step. `keyGroups(step)` gives the keys; on a cluster they share a hash tag.
 */
export function asyncPipeline(id: string, client: AsyncRedis, keyGroup: (step: number) => readonly string[]): Contender {
  const step = async (i: number): Promise<void> => {
    const pipeline = client.pipeline();
    for (const key of keyGroup(i)) pipeline.set(key, VALUE).get(key);
    const replies = await pipeline.exec();
    const last = replies?.[replies.length - 1];
    if (last === undefined || last[0] !== null || last[1] !== VALUE) {
      throw new Error(`async pipeline: unexpected last reply ${String(last?.[0] ?? last?.[1])}`);
    }
  };
  return { id, measure: (budgetMs) => measureSequential(budgetMs, step, PIPELINE_SIZE) };
}

export interface CeilingTarget {
  host: string;
  port: number;
  password: string;
}

/**
 * redis-benchmark run sized from its last measured rate so it takes about the budget
 * (it takes a request count, not a duration).
 */
export function redisBenchmark(id: string, target: CeilingTarget, clients: number, test: "get" | "set"): Contender {
  let lastRate = 10_000;
  return {
    id,
    async measure(budgetMs) {
      const requests = Math.max(500, Math.round((lastRate * budgetMs) / 1000));
      lastRate = await runRedisBenchmark({ ...target, clients, test, requests, timeoutMs: Math.max(15_000, budgetMs * 20) });
      return lastRate;
    },
  };
}
