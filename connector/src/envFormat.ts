/**
 * Turns a config into `REDIS_*` environment lines for apps (dotenv, POSIX shell, JSON).
 * The password is only included when the caller asks for it.
 */
import { formatEndpoint } from "./config/formats";
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
      return Object.entries(config.cluster.natMap).map(([from, to]) => `${from}=${formatEndpoint(to)}`).join(",");
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

/** POSIX shell single-quoting: safe for spaces, quotes, `$`, backslashes and any Unicode. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * dotenv quoting (as read by the `dotenv` package and Node's `--env-file`): single quotes
 * keep everything literal; values holding a single quote use double quotes, then backticks.
 */
export function dotenvQuote(value: string, name: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`${name} holds a line break, which dotenv cannot carry; use --format json or shell`);
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("`")) return `\`${value}\``;
  throw new Error(`${name} holds ', " and \` at once, which dotenv cannot quote; use --format json or shell`);
}

export function formatEnv(entries: EnvEntries, format: EnvFormat): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(Object.fromEntries(entries), null, 2)}\n`;
    case "shell":
      return entries.map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join("");
    case "dotenv":
      return entries.map(([name, value]) => `${name}=${dotenvQuote(value, name)}\n`).join("");
  }
}
