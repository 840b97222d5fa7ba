/**
 * The workload's write/read on the connector's clients. A write is `SET` then `WAIT 1 <ms>`
 * in one pipeline: a pipeline goes to the node that owns the key's slot, so WAIT counts the
 * replicas of exactly that master (a lone WAIT would go to a random cluster node).
 */
import type { AsyncClient, SyncRedisClient } from "@redis-on-docker/connector";
import type { AsyncKeyValue, SyncKeyValue } from "./workload";

type PipelineResults = Array<[Error | null, unknown]> | null;

/** SET ok + WAIT failed = acknowledged but not confirmed (0 replicas). */
function replicasFrom(results: PipelineResults): number {
  if (results === null) throw new Error("pipeline returned no results");
  const [[setError], [waitError, acked]] = results;
  if (setError) throw setError;
  return waitError ? 0 : Number(acked);
}

export function asyncKeyValue(client: AsyncClient): AsyncKeyValue {
  return {
    async write(key, value, waitTimeoutMs) {
      if (waitTimeoutMs <= 0) {
        await client.set(key, String(value));
        return -1;
      }
      return replicasFrom(await client.pipeline().set(key, String(value)).wait(1, waitTimeoutMs).exec());
    },
    read: (key) => client.get(key),
  };
}

export function syncKeyValue(client: SyncRedisClient): SyncKeyValue {
  return {
    write(key, value, waitTimeoutMs) {
      if (waitTimeoutMs <= 0) {
        client.set(key, String(value));
        return -1;
      }
      return replicasFrom(client.pipeline().set(key, String(value)).wait(1, waitTimeoutMs).exec());
    },
    read: (key) => client.get(key),
  };
}
