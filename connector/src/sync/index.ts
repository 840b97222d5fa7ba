/** The sync facade: a blocking Redis client (standalone or cluster) over ioredis. */
export { createSyncClient, SYNC_TIMEOUT_MARGIN_MS, WORKER_START_MARGIN_MS, type SyncClientOptions } from "./syncClient";
export { CommandTimeoutError, SyncConnectError, SyncClientClosedError, WatchLostError } from "./errors";
export type {
  SyncRedisClient,
  SyncBatch,
  SyncCommands,
  SyncBatchCommands,
  BatchReply,
  BatchCommand,
  RefusedCommand,
} from "./types";
