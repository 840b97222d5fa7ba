/**
 * The config the sync-facade tests give a standalone test server: short bounds, the
 * server's password, and per-test overrides on top.
 */
import { loadConfig, type ConnectorConfig, type DeepPartial } from "@redis-on-docker/connector";

export function standaloneSyncConfig(port: number, password: string, overrides: DeepPartial<ConnectorConfig> = {}): ConnectorConfig {
  return loadConfig({
    env: {},
    overrides: {
      topology: "standalone",
      form: "sync",
      password,
      connectTimeoutMs: 3000,
      commandTimeoutMs: 1000,
      ...overrides,
      standalone: { host: "127.0.0.1", port, ...overrides.standalone },
    },
  });
}
