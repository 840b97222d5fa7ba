/** The sync facade: a blocking Redis client (standalone or cluster) over ioredis. */
export { createSyncClient, type SyncClientOptions } from "./syncClient";
export { SYNC_TIMEOUT_MARGIN_MS, WORKER_START_MARGIN_MS } from "./workerChannel";
export { CommandTimeoutError } from "../errors";
export { SyncConnectError, SyncClientClosedError, WatchLostError } from "./syncErrors";
export type {
  SyncRedisClient,
  SyncBatch,
  SyncCommands,
  SyncBatchCommands,
  BatchReply,
  BatchCommand,
  RefusedCommand,
} from "./types";
