/**
 * The connector's settings: one table that drives the convict schema, env var names,
 * `--help`, and error messages. Paths mirror `ConnectorConfig`.
 */
import { FORMATS } from "./formats";

export interface SettingSpec {
  /** Dotted path in ConnectorConfig, e.g. `standalone.port`. */
  path: string;
  env: string;
  doc: string;
  default: unknown;
  format: keyof typeof FORMATS;
  sensitive?: boolean;
}

/** Every setting, in the order `--help` and the env output list them. */
export const SETTINGS: readonly SettingSpec[] = [
  { path: "topology", env: "REDIS_TOPOLOGY", format: "topology", default: "standalone", doc: "Which deployment to talk to: standalone or cluster." },
  { path: "form", env: "REDIS_FORM", format: "form", default: "async", doc: "Client form: async (ioredis promises) or sync (blocking facade)." },
  { path: "standalone.host", env: "REDIS_HOST", format: "host", default: "127.0.0.1", doc: "Standalone server host." },
  { path: "standalone.port", env: "REDIS_PORT", format: "port", default: 6379, doc: "Standalone server port." },
  { path: "standalone.db", env: "REDIS_DB", format: "db", default: 0, doc: "Standalone database index." },
  { path: "cluster.nodes", env: "REDIS_CLUSTER_NODES", format: "endpoints", default: [], doc: "Cluster seed nodes: host:port,host:port (or a JSON array of {host,port})." },
  { path: "cluster.natMap", env: "REDIS_CLUSTER_NAT_MAP", format: "natMap", default: {}, doc: "Announced address -> reachable address: ip:port=host:port,... (or a JSON object)." },
  { path: "cluster.scaleReads", env: "REDIS_CLUSTER_SCALE_READS", format: "scaleReads", default: "master", doc: "Where cluster reads go: master, slave or all." },
  { path: "cluster.maxRedirections", env: "REDIS_CLUSTER_MAX_REDIRECTIONS", format: "count", default: 16, doc: "MOVED/ASK redirections followed per command." },
  { path: "password", env: "REDIS_PASSWORD", format: "password", default: "", sensitive: true, doc: "Password of every node (AUTH); empty for none. Secret." },
  { path: "username", env: "REDIS_USERNAME", format: "username", default: "", doc: "ACL user (Redis 6+ only); empty for none. Redis 5 has no ACL users." },
  { path: "keyPrefix", env: "REDIS_KEY_PREFIX", format: "text", default: "", doc: "Prefix added to every key." },
  { path: "tls", env: "REDIS_TLS", format: "boolean", default: false, doc: "Connect with TLS." },
  { path: "connectTimeoutMs", env: "REDIS_CONNECT_TIMEOUT_MS", format: "millis", default: 5000, doc: "Bound on establishing a connection, ms." },
  { path: "commandTimeoutMs", env: "REDIS_COMMAND_TIMEOUT_MS", format: "millis", default: 5000, doc: "Bound on one command, ms; no call waits longer." },
  { path: "maxRetriesPerRequest", env: "REDIS_MAX_RETRIES_PER_REQUEST", format: "count", default: 2, doc: "Retries of one command across reconnects." },
  { path: "reconnectMaxDelayMs", env: "REDIS_RECONNECT_MAX_DELAY_MS", format: "millis", default: 2000, doc: "Cap on the delay between reconnect attempts, ms." },
];

/** Env vars that name a source rather than a setting. */
export const SOURCE_ENV = {
  configFile: "REDIS_CONFIG_FILE",
  outputsFile: "REDIS_OUTPUTS_FILE",
} as const;

const SETTINGS_BY_PATH = new Map(SETTINGS.map((spec) => [spec.path, spec]));

export function settingSpec(path: string): SettingSpec | undefined {
  return SETTINGS_BY_PATH.get(path);
}

/** Each setting's format, by path (the validation `loadConfig` runs per setting). */
export const FORMATS_BY_PATH: Readonly<Record<string, (typeof FORMATS)[keyof typeof FORMATS]>> = Object.fromEntries(
  SETTINGS.map((spec) => [spec.path, FORMATS[spec.format]]),
);
