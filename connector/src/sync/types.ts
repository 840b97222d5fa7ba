/**
 * Public types of the sync facade. The command signatures are ioredis's own
 * (`RedisCommander`, generated from the Redis command docs) with the Promise taken
 * off: ioredis picks a command's return type through the `ResultTypes` interface,
 * keyed by a context, and we add two contexts to it.
 */
import type { RedisCommander } from "ioredis";
import type { Topology } from "../config/types";

declare module "ioredis/built/utils/RedisCommander" {
  // Both type parameters must be named as in ioredis for the declarations to merge.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface ResultTypes<Result, Context> {
    /** A sync client's command returns its reply. */
    sync: Result;
    /** A sync batch's command queues and returns the batch, for chaining. */
    syncBatch: SyncBatch;
  }
}

/** Commands refused by the sync client (pub/sub and MONITOR push replies nobody asked for). */
export type RefusedCommand =
  | "subscribe"
  | "psubscribe"
  | "ssubscribe"
  | "unsubscribe"
  | "punsubscribe"
  | "sunsubscribe"
  | "monitor";

/** Methods of RedisCommander the facade replaces with its own (multi/exec/quit). */
type ReplacedMethod = "exec" | "multi" | "quit";

type Refused = RefusedCommand | `${RefusedCommand}Buffer` | ReplacedMethod | `${ReplacedMethod}Buffer`;

/**
 * Every ioredis command, blocking: `get(key): string | null`, `getBuffer(key): Buffer | null`,
 * `hgetall(key): Record<string, string>`, …, and `call(command, ...args): unknown`.
 * A trailing callback is rejected at run time (there is nothing to call back).
 */
export type SyncCommands = Omit<RedisCommander<{ type: "sync" }>, Refused>;

/** Commands queued on a batch; each returns the batch for chaining. */
export type SyncBatchCommands = Omit<RedisCommander<{ type: "syncBatch" }>, Refused>;

/** `[error, result]` per queued command, as ioredis's `exec()` gives. */
export type BatchReply = [error: Error | null, result: unknown][];

/** A pipeline or MULTI/EXEC batch: queue commands, then `exec()` sends them in one go. */
export interface SyncBatch extends SyncBatchCommands {
  /** Number of queued commands. */
  readonly length: number;
  /**
   * Sends every queued command in one round trip to the worker (and one ioredis
   * pipeline to Redis). `null` when a MULTI was aborted by WATCH, like ioredis.
   * Throws (like ioredis's rejected exec) e.g. on EXECABORT or cross-slot batches.
   */
  exec(): BatchReply | null;
}

/** A command as data for `pipeline([...])` / `multi([...])`, like ioredis: `["set", "k", "v"]`. */
export type BatchCommand = [command: string, ...args: (string | Buffer | number)[]];

/**
 * The blocking Redis client. Created ready (see createSyncClient); every call
 * returns its reply or throws, and no call waits longer than commandTimeoutMs
 * plus a small margin.
 */
export interface SyncRedisClient extends SyncCommands {
  /** `standalone` or `cluster`, as configured. */
  readonly topology: Topology;
  /** True once close()/quit()/disconnect() ran or the worker stopped. */
  readonly closed: boolean;
  /** A pipeline (no transaction); with `commands`, pre-queued like ioredis's `pipeline(cmds)`. */
  pipeline(commands?: BatchCommand[]): SyncBatch;
  /** A MULTI/EXEC transaction batch, sent as one pipeline like ioredis's `multi()`. */
  multi(commands?: BatchCommand[]): SyncBatch;
  /** Sends QUIT (bounded), then ends the worker thread. Idempotent. */
  close(): void;
  /** Same as close(); returns "OK" like ioredis's `quit()`. */
  quit(): "OK";
  /** Ends the worker without QUIT (like ioredis's `disconnect()`). Idempotent. */
  disconnect(): void;
}
