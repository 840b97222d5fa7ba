/** Public API of the connector. */
export type { Endpoint, StackOutputs, StandaloneOutputs, ClusterOutputs } from "./outputs/validate";
export type { ConnectorConfig, Topology, ClientForm, ScaleReads } from "./config/types";

export { CommandTimeoutError, ConfigError } from "./errors";
/** ioredis's error classes, for `instanceof` checks without importing ioredis directly. */
export { ReplyError } from "ioredis";
export { loadConfig, type LoadConfigOptions, type LoadedConfig } from "./config/load";
export { configFromStackOutputs, type DeepPartial, type OutputsNetwork } from "./config/fromOutputs";
export { describeConfig, redactedConfig } from "./config/redact";
export { settingSources } from "./config/provenance";
export { SETTINGS, type SettingSpec } from "./config/schema";
export { parseStackOutputs, parseStackOutputsJson } from "./outputs/validate";
export { loadStackOutputs, loadStackOutputsFile, loadStackOutputsFromPulumi, type OutputsSource } from "./outputs/load";
export { envEntries, formatEnv, shellQuote, type EnvFormat, type EnvEntries } from "./envFormat";

export { createAsyncClient, lastConnectionError, type AsyncClient } from "./client/asyncClient";
export { createClient, type ClientFor, type ConnectorClient } from "./createClient";
export { waitUntilReady, NotReadyError, explainConnectionError } from "./client/ready";
export { assertUsernameSupported, helloReplyShowsAcl, serverHasAcl } from "./client/aclProbe";
export { connect, createReadyClient } from "./connect";
export {
  createSyncClient,
  SyncConnectError,
  SyncClientClosedError,
  WatchLostError,
  type SyncRedisClient,
  type SyncClientOptions,
  type SyncBatch,
  type SyncCommands,
  type SyncBatchCommands,
  type BatchReply,
  type BatchCommand,
  type RefusedCommand,
} from "./sync";
