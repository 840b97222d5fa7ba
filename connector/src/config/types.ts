import type { Endpoint } from "../endpoint";

/** Which Redis deployment the client talks to. */
export type Topology = "standalone" | "cluster";
/** `async`: ioredis's own promise API. `sync`: a blocking facade (no `await`). */
export type ClientForm = "async" | "sync";
/** Where cluster reads go (ioredis `scaleReads`). */
export type ScaleReads = "master" | "slave" | "all";

/**
 * The connector's validated configuration: plain data only (it is sent to the sync
 * facade's worker thread as is). Built by `loadConfig` from its sources.
 */
export interface ConnectorConfig {
  /** Env `REDIS_TOPOLOGY`. Default `standalone`. */
  topology: Topology;
  /** Env `REDIS_FORM`. Default `async`. */
  form: ClientForm;
  standalone: {
    /** Env `REDIS_HOST`. Default `127.0.0.1`. */
    host: string;
    /** Env `REDIS_PORT`. Default 6379. */
    port: number;
    /** Env `REDIS_DB`. Default 0. */
    db: number;
  };
  cluster: {
    /** Seed nodes. Env `REDIS_CLUSTER_NODES` (`host:port,host:port`). Default none. */
    nodes: Endpoint[];
    /** Announced `ip:port` -> reachable address. Env `REDIS_CLUSTER_NAT_MAP`. Default none. */
    natMap: Record<string, Endpoint>;
    /** Env `REDIS_CLUSTER_SCALE_READS`. Default `master`. */
    scaleReads: ScaleReads;
    /** Env `REDIS_CLUSTER_MAX_REDIRECTIONS`. Default 16. */
    maxRedirections: number;
  };
  /** Env `REDIS_PASSWORD` (sensitive). `""` means none. */
  password: string;
  /** ACL user, Redis 6+ only. Env `REDIS_USERNAME`. `""` means none (Redis 5 has no ACLs). */
  username: string;
  /** Prefix added to every key. Env `REDIS_KEY_PREFIX`. Default `""`. */
  keyPrefix: string;
  /** Env `REDIS_TLS`. Default false. */
  tls: boolean;
  /** Bound on establishing a connection, ms. Env `REDIS_CONNECT_TIMEOUT_MS`. Default 5000. */
  connectTimeoutMs: number;
  /** Bound on one command, ms; no call waits longer. Env `REDIS_COMMAND_TIMEOUT_MS`. Default 5000. */
  commandTimeoutMs: number;
  /** Retries of one command across reconnects. Env `REDIS_MAX_RETRIES_PER_REQUEST`. Default 2. */
  maxRetriesPerRequest: number;
  /** Cap on the delay between reconnect attempts, ms. Env `REDIS_RECONNECT_MAX_DELAY_MS`. Default 2000. */
  reconnectMaxDelayMs: number;
}
