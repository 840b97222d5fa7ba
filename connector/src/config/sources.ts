/**
 * Reading one config source into `[setting path, value]` pairs, rejecting unknown keys with
 * the source's name (strict validation, before anything is merged).
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "./errors";
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

/**
 * Parses JSON without echoing the input in the error (it may hold the password); says
 * where it broke, and calls an early end "truncated".
 */
export function parseJsonText(text: string, setting: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    const truncated = position !== null && Number(position[1]) >= text.trimEnd().length;
    const where = /end of JSON input/i.test(message) || text.trim() === "" || truncated
      ? "it ends early (truncated or empty)"
      : position !== null
        ? `syntax error at character ${position[1]}`
        : "syntax error";
    throw new ConfigError(setting, undefined, source, `not valid JSON: ${where}`);
  }
}

/** Reads a JSON file; a missing or unreadable file is a ConfigError naming it. */
export function readJsonFile(path: string, setting: string, sourceLabel: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(setting, undefined, `${sourceLabel} ${path}`, `cannot read the file (${code})`);
  }
  return parseJsonText(text, setting, `${sourceLabel} ${path}`);
}
