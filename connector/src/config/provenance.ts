/**
 * Where each setting of a loaded config came from (`defaults`, `config file F`, `stack
 * outputs F`, `env REDIS_PORT`, `override`), so messages can say which source to fix.
 * Kept beside the config, not in it: the config stays plain data (a spread copy has no sources).
 */
import type { ConnectorConfig } from "./types";

export const DEFAULTS_SOURCE = "defaults";

const sourcesOf = new WeakMap<object, Readonly<Record<string, string>>>();

/** Records the sources of `config`'s settings (by setting path). */
export function recordSources(config: ConnectorConfig, sources: ReadonlyMap<string, string>): void {
  sourcesOf.set(config, Object.freeze(Object.fromEntries(sources)));
}

/** Each setting's source, by setting path (e.g. `standalone.port` -> `env REDIS_PORT`); undefined for a config `loadConfig` did not return. */
export function settingSources(config: ConnectorConfig): Readonly<Record<string, string>> | undefined {
  return sourcesOf.get(config);
}

/**
 * ` (port from env REDIS_PORT, host from stack outputs o.json)`: the non-default sources of
 * the settings that decide where a client connects, or "" when all are defaults or unknown.
 */
export function targetSources(config: ConnectorConfig): string {
  const sources = sourcesOf.get(config);
  if (sources === undefined) return "";
  const paths: Array<[path: string, label: string]> = config.topology === "standalone"
    ? [["standalone.host", "host"], ["standalone.port", "port"]]
    : [["cluster.nodes", "seed nodes"], ["cluster.natMap", "natMap"]];
  const parts = paths
    .filter(([path]) => sources[path] !== undefined && sources[path] !== DEFAULTS_SOURCE)
    .map(([path, label]) => `${label} from ${sources[path]}`);
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}
