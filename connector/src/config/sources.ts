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

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The text of a JSON file, which must be UTF-8. A UTF-8 byte-order mark (Windows editors,
 * PowerShell's `Out-File -Encoding utf8`) is dropped; UTF-16 (PowerShell 5's `>`
 * redirection) is refused with the fix, instead of a bare "syntax error".
 */
function decodeJsonBytes(bytes: Buffer, setting: string, source: string, envVar: string | undefined): string {
  if (bytes.subarray(0, 3).equals(UTF8_BOM)) return bytes.subarray(3).toString("utf8");
  const utf16Bom = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  if (utf16Bom || bytes.subarray(0, 64).includes(0)) {
    throw new ConfigError(setting, envVar, source,
      "the file is UTF-16 encoded (as PowerShell's `>` writes), not UTF-8; save it as UTF-8 " +
        "(e.g. redis-connector env --out FILE, or PowerShell's Out-File -Encoding utf8)");
  }
  return bytes.toString("utf8");
}

/**
 * Reads a JSON file; a missing or unreadable file is a ConfigError naming it, and `envVar`
 * when the path came from that env var.
 */
export function readJsonFile(path: string, setting: string, sourceLabel: string, envVar?: string): unknown {
  const source = `${sourceLabel} ${path}${envVar === undefined ? "" : ` (from env ${envVar})`}`;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    const fix = envVar === undefined ? "" : `; set ${envVar} to an existing file, or unset it`;
    throw new ConfigError(setting, envVar, source, `cannot read the file (${code})${fix}`);
  }
  return parseJsonText(decodeJsonBytes(bytes, setting, source, envVar), setting, source);
}
