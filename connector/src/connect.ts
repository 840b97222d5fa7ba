/** `connect`: load the config from its sources, check it against the server, build the client. */
import { Cluster } from "ioredis";
import Redis from "ioredis";
import { loadConfig, type LoadConfigOptions, type LoadedConfig } from "./config/load";
import type { DeepPartial } from "./config/fromOutputs";
import type { ConnectorConfig } from "./config/types";
import { assertUsernameSupported } from "./client/aclProbe";
import { createClient, type ClientFor } from "./createClient";
import { waitUntilReady } from "./client/ready";

/**
 * `loadConfig(options)` + `createClient`, and for the async forms waits (bounded by
 * `connectTimeoutMs`) until the client is ready; on failure the client is closed and the
 * error thrown. With a username, first checks that the server has ACL users.
 */
export async function connect<O extends DeepPartial<ConnectorConfig> = {}>(
  options: LoadConfigOptions & { overrides?: O } = {},
): Promise<ClientFor<LoadedConfig<O>>> {
  const config = loadConfig(options);
  await assertUsernameSupported(config);
  return createReadyClient(config);
}

/**
 * `createClient(config)`, and for the async forms waits (bounded by `connectTimeoutMs`) until
 * the client is ready; on failure the client is closed and the error thrown. (The sync form
 * is ready when `createClient` returns.)
 */
export async function createReadyClient<C extends ConnectorConfig>(config: C): Promise<ClientFor<C>> {
  const client = createClient(config);
  if (client instanceof Redis || client instanceof Cluster) {
    try {
      await waitUntilReady(client, config.connectTimeoutMs);
    } catch (error) {
      client.disconnect();
      throw error;
    }
  }
  return client;
}
