/**
 * Turns a config into `REDIS_*` environment lines for apps (dotenv, POSIX shell, JSON).
 * The password is only included when the caller asks for it.
 */
import { formatEndpoint, parseNatMapKey } from "./endpoint";
import { SETTINGS } from "./config/schema";
import type { ConnectorConfig } from "./config/types";

export type EnvFormat = "dotenv" | "shell" | "json";
export const ENV_FORMATS: readonly EnvFormat[] = ["dotenv", "shell", "json"];

/** `[name, value]` pairs, in schema order. */
export type EnvEntries = Array<[name: string, value: string]>;

function envName(path: string): string {
  const spec = SETTINGS.find((s) => s.path === path);
  if (spec === undefined) throw new Error(`no setting ${path}`);
  return spec.env;
}

/** The env value that `loadConfig` reads back as the same setting value. */
export function envValue(config: ConnectorConfig, path: string): string {
  switch (path) {
    case "cluster.nodes":
      return config.cluster.nodes.map(formatEndpoint).join(",");
    case "cluster.natMap":
      return Object.entries(config.cluster.natMap).map(([from, to]) => `${formatEndpoint(parseNatMapKey(from))}=${formatEndpoint(to)}`).join(",");
    default: {
      let value: unknown = config;
      for (const part of path.split(".")) value = (value as Record<string, unknown>)[part];
      return String(value);
    }
  }
}

/**
 * The env entries for the given setting paths; `password` is skipped unless
 * `includeSecrets` (and when empty).
 */
export function envEntries(config: ConnectorConfig, paths: readonly string[], includeSecrets: boolean): EnvEntries {
  const entries: EnvEntries = [];
  for (const spec of SETTINGS) {
    if (!paths.includes(spec.path)) continue;
    if (spec.sensitive === true && (!includeSecrets || config.password === "")) continue;
    entries.push([envName(spec.path), envValue(config, spec.path)]);
  }
  return entries;
}

/** Who reads each format back: the promise `formatEnv` keeps (byte for byte) or refuses to make. */
export const ENV_FORMAT_READERS: Readonly<Record<EnvFormat, string>> = {
  dotenv: "node --env-file, the dotenv package, sh and bash (set -a; . FILE)",
  shell: "sh and bash (. FILE, or eval)",
  json: "JSON.parse",
};

/** A value that a format cannot carry to every reader it names; the message never holds the value. */
export class EnvFormatError extends Error {
  override readonly name = "EnvFormatError";
  constructor(readonly envVar: string, readonly format: EnvFormat, problem: string) {
    super(`${envVar} ${problem}, which --format ${format} cannot carry to ${ENV_FORMAT_READERS[format]}; ${format === "dotenv" ? "use --format shell (sh, bash) or --format json" : "use --format json"}`);
  }
}

/**
 * POSIX shell single-quoting: nothing inside single quotes is special to sh or bash (no
 * `$`, backtick or backslash processing), so any value without NUL reads back as is.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Characters that sh and bash process inside double quotes. */
const SPECIAL_IN_SH_DOUBLE_QUOTES = /["$`\\]/;

/**
 * Quoting for the dotenv format that every reader it names takes literally: single quotes
 * (literal in dotenv, Node's parser and sh); a value holding a single quote uses double
 * quotes, which only works when it holds none of `"`, `$`, backtick, backslash (sh would
 * expand them; dotenv and Node would keep an escaping backslash). Backticks are never used:
 * sh runs what they enclose. Anything else is refused.
 */
export function dotenvQuote(value: string, name: string): string {
  if (/[\0\r\n]/.test(value)) throw new EnvFormatError(name, "dotenv", "holds a line break or NUL");
  if (!value.includes("'")) return `'${value}'`;
  if (!SPECIAL_IN_SH_DOUBLE_QUOTES.test(value)) return `"${value}"`;
  throw new EnvFormatError(name, "dotenv", "holds a single quote together with \", $, ` or \\");
}

/** JSON.parse reads any string back; only the shell format has a limit (NUL cannot be in env values at all). */
function checkShellValue(value: string, name: string): string {
  if (value.includes("\0")) throw new EnvFormatError(name, "shell", "holds a NUL character");
  return shellQuote(value);
}

/** The env lines in `format`; throws an EnvFormatError (naming the variable, format and readers) for a value it cannot carry. */
export function formatEnv(entries: EnvEntries, format: EnvFormat): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(Object.fromEntries(entries), null, 2)}\n`;
    case "shell":
      return entries.map(([name, value]) => `export ${name}=${checkShellValue(value, name)}\n`).join("");
    case "dotenv":
      return entries.map(([name, value]) => `${name}=${dotenvQuote(value, name)}\n`).join("");
  }
}
