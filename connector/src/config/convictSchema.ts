/**
 * The convict schema built from the settings table. Internal: kept out of the modules the
 * public declarations reach, so an app compiles them without convict's type package.
 */
import convict from "convict";
import { FORMATS, registerFormats } from "./formats";
import { SETTINGS } from "./schema";
import type { ConnectorConfig } from "./types";

/** The convict schema built from `SETTINGS`. */
export function buildSchema(): convict.Schema<ConnectorConfig> {
  registerFormats();
  const root: Record<string, unknown> = {};
  for (const spec of SETTINGS) {
    const parts = spec.path.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = {
      doc: spec.doc,
      format: FORMATS[spec.format].name,
      default: spec.default,
      env: spec.env,
      sensitive: spec.sensitive === true,
    };
  }
  return root as convict.Schema<ConnectorConfig>;
}

/** A fresh convict instance holding only defaults: sources are applied by `loadConfig` in order. */
export function newConvictConfig(): convict.Config<ConnectorConfig> {
  // env {} and args []: loadConfig applies env itself, after the file and outputs sources.
  return convict(buildSchema(), { env: {}, args: [] });
}
