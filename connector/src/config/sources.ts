/**
 * Reading one config source into `[setting path, value]` pairs, rejecting unknown keys with
 * the source's name (strict validation, before anything is merged).
 */
import { ConfigError } from "../errors";
import { SETTINGS, settingSpec } from "./schema";

export type SettingValues = Array<[path: string, value: unknown]>;

const GROUPS = new Set(SETTINGS.filter((s) => s.path.includes(".")).map((s) => s.path.split(".")[0]));

/** Flattens a nested config object into setting paths; unknown keys are a ConfigError naming `source`. */
export function flattenSettings(value: unknown, source: string, prefix = ""): SettingValues {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const what = prefix === "" ? "the document" : prefix;
    throw new ConfigError(prefix === "" ? "(root)" : prefix, undefined, source, `${what} must be a JSON object`);
  }
  const values: SettingValues = [];
  for (const [key, child] of Object.entries(value)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    if (settingSpec(path) !== undefined) {
      if (child !== undefined) values.push([path, child]);
    } else if (prefix === "" && GROUPS.has(key)) {
      values.push(...flattenSettings(child, source, path));
    } else {
      throw new ConfigError(path, undefined, source, `unknown setting "${path}" (known: ${knownSettings()})`);
    }
  }
  return values;
}

function knownSettings(): string {
  return SETTINGS.map((s) => s.path).join(", ");
}
