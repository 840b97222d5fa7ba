/**
 * Connector configs and clients for the reliability tests, built the way an app builds
 * them: `loadConfig` from the local runner's outputs document, with only user-facing
 * settings overridden (timeouts). Retry behaviour is the connector's own defaults, so a
 * regression in them shows up here.
 */
import {
  createClient,
  loadConfig,
  waitUntilReady,
  type ConnectorConfig,
  type StackOutputs,
} from "@redis-on-docker/connector";
import type { Cluster } from "ioredis";
import type Redis from "ioredis";

/** Command timeout the reliability clients run with: small, so failures surface fast. */
export const COMMAND_TIMEOUT_MS = 1000;
export const CONNECT_TIMEOUT_MS = 1000;
/** The sync facade allows itself commandTimeoutMs + 500 ms; 250 ms more for scheduling on a loaded machine. */
export const CALL_MARGIN_MS = 750;
/** Short: with its replica gone, a WAIT blocks its connection this long, and the writes queued behind it. */
export const WAIT_TIMEOUT_MS = 100;

export function reliabilityConfig(
  outputs: StackOutputs,
  topology: "standalone" | "cluster",
  form: "async" | "sync",
): ConnectorConfig {
  return loadConfig({
    outputs,
    env: {},
    overrides: { topology, form, commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS },
  });
}

/** An async client of the connector, ready (bounded) before it is returned. */
export async function readyAsyncClient(config: ConnectorConfig): Promise<Redis | Cluster> {
  const client = createClient({ ...config, form: "async" as const });
  // The workload records each call's error; the client's own error events are expected noise here.
  client.on("error", () => undefined);
  try {
    await waitUntilReady(client, 5000);
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}
