/** Contenders on the connector's sync facade: blocking GET/SET and a blocking pipeline. */
import { measureSequentialSync, type Contender } from "./measure";
import { keyAt, PIPELINE_SIZE, VALUE } from "./workload";

/** The part of the sync facade the bench drives (its full type lives in the connector). */
export interface SyncBenchClient {
  get(key: string): string | null;
  set(key: string, value: string): unknown;
  pipeline(): SyncBenchPipeline;
}

interface SyncBenchPipeline {
  set(key: string, value: string): SyncBenchPipeline;
  get(key: string): SyncBenchPipeline;
  exec(): Array<[Error | null, unknown]> | null;
}

export function syncGet(id: string, client: SyncBenchClient): Contender {
  return { id, measure: async (budgetMs) => measureSequentialSync(budgetMs, (i) => client.get(keyAt(i))) };
}

export function syncSet(id: string, client: SyncBenchClient): Contender {
  return { id, measure: async (budgetMs) => measureSequentialSync(budgetMs, (i) => client.set(keyAt(i), VALUE)) };
}

/** The sync twin of `asyncPipeline`: same commands, same keys, same reply check. */
export function syncPipeline(id: string, client: SyncBenchClient, keyGroup: (step: number) => readonly string[]): Contender {
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
