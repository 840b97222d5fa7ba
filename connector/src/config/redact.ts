/**
 * Keeps the password out of every printed form of a config. The config stays a plain
 * object (the sync facade's worker receives it by structured clone, which copies only own
 * enumerable string keys, so the redacting hooks below are not sent and the password is).
 */
import { inspect } from "node:util";
import type { ConnectorConfig } from "./types";

export const REDACTED = "[redacted]";

/** A copy of the config that is safe to print: the password is replaced when set. */
export function redactedConfig(config: ConnectorConfig): ConnectorConfig {
  return {
    ...config,
    standalone: { ...config.standalone },
    cluster: { ...config.cluster, nodes: [...config.cluster.nodes], natMap: { ...config.cluster.natMap } },
    password: config.password === "" ? "" : REDACTED,
  };
}

/** One-line description of a config with the password redacted, for logs. */
export function describeConfig(config: ConnectorConfig): string {
  return JSON.stringify(redactedConfig(config));
}

/**
 * Makes `util.inspect`, `console.log`, template strings and `JSON.stringify` of the config
 * redact the password. The hooks are non-enumerable (`{...config}` drops them: a spread copy
 * is no longer protected).
 */
export function protectConfig<T extends ConnectorConfig>(config: T): T {
  Object.defineProperties(config, {
    [inspect.custom]: {
      value: (_depth: number, options: object) => inspect(redactedConfig(config), options),
      enumerable: false,
    },
    toJSON: { value: () => redactedConfig(config), enumerable: false },
    toString: { value: () => describeConfig(config), enumerable: false },
  });
  return config;
}
