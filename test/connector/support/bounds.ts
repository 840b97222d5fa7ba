/** Short client bounds for failure tests, so every failure shows within a few seconds. */
import type { ConnectorConfig, DeepPartial } from "@redis-on-docker/connector";

/** Connect and command timeout of the failure tests, ms. */
export const TIMEOUT_MS = 1000;
/** Slack on top of a configured bound for a loaded 2-core machine, ms. */
export const SLACK_MS = 1500;

export const SHORT_BOUNDS: DeepPartial<ConnectorConfig> = {
  connectTimeoutMs: TIMEOUT_MS,
  commandTimeoutMs: TIMEOUT_MS,
  reconnectMaxDelayMs: 200,
  maxRetriesPerRequest: 1,
};
