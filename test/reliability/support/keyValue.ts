/**
 * The workload's write/read on the connector's clients, in each write shape. `WAIT` goes in
 * the same pipeline or MULTI as its SET: a batch goes to the node that owns the key's slot,
 * so WAIT counts the replicas of exactly that master (a lone WAIT would go to a random node).
 */
import type { AsyncClient, SyncRedisClient } from "@redis-on-docker/connector";
import type { AsyncKeyValue, SyncKeyValue, WriteShape } from "./workload";

type BatchResults = Array<[Error | null, unknown]> | null;

/**
 * The replicas that a batch's WAIT (its second reply) reported, or -1 without a WAIT; the
 * SET's error is thrown. `[SET ok, WAIT failed]` = acknowledged but not confirmed (0 replicas).
 */
function replicasFrom(results: BatchResults, withWait: boolean): number {
  if (results === null) throw new Error("the batch returned no results (aborted)");
  const [[setError], waitReply] = results;
  if (setError) throw setError;
  if (!withWait) return -1;
  const [waitError, acked] = waitReply ?? [new Error("no WAIT reply"), 0];
  return waitError ? 0 : Number(acked);
}

export function asyncKeyValue(client: AsyncClient): AsyncKeyValue {
  return {
    async write(key, value, shape: WriteShape, waitTimeoutMs) {
      const v = String(value);
      switch (shape) {
        case "set":
          await client.set(key, v);
          return -1;
        case "setWait":
          return replicasFrom(await client.pipeline().set(key, v).wait(1, waitTimeoutMs).exec(), true);
        case "multi":
          return replicasFrom(await client.multi().set(key, v).exec(), false);
        case "multiWait":
          return replicasFrom(await client.multi().set(key, v).wait(1, waitTimeoutMs).exec(), true);
        case "rpush":
          await client.rpush(key, v);
          return -1;
      }
    },
    read: (key) => client.get(key),
  };
}

export function syncKeyValue(client: SyncRedisClient): SyncKeyValue {
  return {
    write(key, value, shape: WriteShape, waitTimeoutMs) {
      const v = String(value);
      switch (shape) {
        case "set":
          client.set(key, v);
          return -1;
        case "setWait":
          return replicasFrom(client.pipeline().set(key, v).wait(1, waitTimeoutMs).exec(), true);
        case "multi":
          return replicasFrom(client.multi().set(key, v).exec(), false);
        case "multiWait":
          return replicasFrom(client.multi().set(key, v).wait(1, waitTimeoutMs).exec(), true);
        case "rpush":
          client.rpush(key, v);
          return -1;
      }
    },
    read: (key) => client.get(key),
  };
}
