/** Contenders on the connector's sync facade: blocking GET/SET and a blocking pipeline. */
import type { SyncRedisClient } from "@redis-on-docker/connector";
import { measureSequentialSync, type Contender } from "./measure";
import { keyAt, PIPELINE_SIZE, VALUE } from "./workload";

export function syncGet(id: string, client: SyncRedisClient): Contender {
  return { id, measure: async (budgetMs) => measureSequentialSync(budgetMs, (i) => client.get(keyAt(i))) };
}

export function syncSet(id: string, client: SyncRedisClient): Contender {
  return { id, measure: async (budgetMs) => measureSequentialSync(budgetMs, (i) => client.set(keyAt(i), VALUE)) };
}

/** The sync twin of `asyncPipeline`: same commands, same keys, same reply check. */
export function syncPipeline(id: string, client: SyncRedisClient, keyGroup: (step: number) => readonly string[]): Contender {
  const step = (i: number): void => {
    const pipeline = client.pipeline();
    for (const key of keyGroup(i)) pipeline.set(key, VALUE).get(key);
    const replies = pipeline.exec();
    const last = replies?.[replies.length - 1];
    if (last === undefined || last[0] !== null || last[1] !== VALUE) {
      throw new Error(`sync pipeline: unexpected last reply ${String(last?.[0] ?? last?.[1])}`);
    }
  };
  return { id, measure: async (budgetMs) => measureSequentialSync(budgetMs, step, PIPELINE_SIZE) };
}
