/**
 * Contenders built on ioredis's promise API: raw ioredis and the connector's async client
 * (sequential, concurrent, pipelined), and redis-benchmark as the server-side ceiling.
 */
import type { Cluster, Redis } from "ioredis";
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

export function concurrentGet(id: string, client: AsyncRedis): Contender {
  return { id, measure: (budgetMs) => measureConcurrent(budgetMs, CONCURRENCY, (i) => client.get(keyAt(i))) };
}

export function concurrentSet(id: string, client: AsyncRedis): Contender {
  return { id, measure: (budgetMs) => measureConcurrent(budgetMs, CONCURRENCY, (i) => client.set(keyAt(i), VALUE)) };
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
