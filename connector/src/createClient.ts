/**
 * `createClient`: the one entry point that builds the client a config asks for —
 * ioredis `Redis`, ioredis `Cluster`, or the sync facade over either.
 */
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import { createAsyncClient } from "./client/asyncClient";
import type { ConnectorConfig } from "./config/types";
import { createSyncClient, type SyncRedisClient } from "./sync";

/** Any client the connector builds. */
export type ConnectorClient = Redis | Cluster | SyncRedisClient;

/**
 * The client type for a config type: `form: "sync"` gives the blocking facade, otherwise
 * ioredis's own `Cluster` / `Redis`; a config whose form or topology is not known
 * statically gives the union.
 */
export type ClientFor<C extends Pick<ConnectorConfig, "topology" | "form">> = C["form"] extends "sync"
  ? SyncRedisClient
  : "sync" extends C["form"]
    ? ConnectorClient
    : C["topology"] extends "cluster"
      ? Cluster
      : "cluster" extends C["topology"]
        ? Redis | Cluster
        : Redis;

/**
 * Builds the client for `config` (from `loadConfig`). The async forms return the ioredis
 * instance itself (only the error path of a command is hooked). Connecting starts at once; use
 * `waitUntilReady` to wait for it (bounded). A username is sent as configured: `connect()`
 * first checks that the server has ACL users (`assertUsernameSupported`).
 */
export function createClient<C extends ConnectorConfig>(config: C): ClientFor<C> {
  if (config.form === "sync") return createSyncClient(config) as ClientFor<C>;
  return createAsyncClient(config) as ClientFor<C>;
}
