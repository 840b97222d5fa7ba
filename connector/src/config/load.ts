/**
 * `loadConfig`: builds a validated ConnectorConfig from its sources, lowest to highest:
 * defaults < config file < stack outputs document < REDIS_* env < explicit overrides.
 * Every error is a ConfigError naming the setting, its env var and the source of the value.
 */
import { canonicalNatMap } from "../endpoint";
import { ConfigError, DOCUMENT } from "../errors";
import { configFromStackOutputs, type DeepPartial, type OutputsNetwork } from "./fromOutputs";
import { protectConfig } from "./redact";
import { newConvictConfig } from "./convictSchema";
import { SETTINGS, settingSpec, SOURCE_ENV, FORMATS_BY_PATH } from "./schema";
import { flattenSettings, type SettingValues } from "./sources";
import type { ConnectorConfig } from "./types";
import { didYouMean } from "./suggest";
import { DEFAULTS_SOURCE, recordSources } from "./provenance";
import type { StackOutputs } from "../generated/outputsContract";
import { readJsonFile } from "../jsonFile";
import { loadStackOutputsFile } from "../outputs/load";

export interface LoadConfigOptions {
  /** JSON config file (nested like ConnectorConfig). Default: env `REDIS_CONFIG_FILE`, if set. */
  file?: string;
  /** Outputs document, or the path of one. Default: env `REDIS_OUTPUTS_FILE`, if set. */
  outputs?: StackOutputs | string;
  /** Which addresses of the outputs document to use. Default `host`. */
  outputsNetwork?: OutputsNetwork;
  /** Environment to read `REDIS_*` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Highest-precedence values, from code. */
  overrides?: DeepPartial<ConnectorConfig>;
  /**
   * What to do with a `REDIS_*` variable that is no setting (a typo such as `REDIS_TOPLOGY`):
   * `warn` (default: a process warning with a did-you-mean, once per name), `error` (a
   * ConfigError), or `ignore`.
   */
  unknownEnv?: "warn" | "error" | "ignore";
}

/** The config type `loadConfig` returns: topology and form narrowed to the overrides' literals. */
export type LoadedConfig<O> = ConnectorConfig &
  (O extends { topology: infer T extends ConnectorConfig["topology"] } ? { topology: T } : unknown) &
  (O extends { form: infer F extends ConnectorConfig["form"] } ? { form: F } : unknown);

interface Layer {
  source: string;
  values: SettingValues;
}

/** Loads, merges and validates the connector config. The result redacts its password when printed. */
export function loadConfig<O extends DeepPartial<ConnectorConfig> = {}>(
  options: LoadConfigOptions & { overrides?: O } = {},
): LoadedConfig<O> {
  const env = options.env ?? process.env;
  const layers: Layer[] = [];

  const fileFromEnv = options.file === undefined ? nonEmpty(env[SOURCE_ENV.configFile]) : undefined;
  const file = options.file ?? fileFromEnv;
  if (file !== undefined) {
    const source = `config file ${file}`;
    const fileEnv = fileFromEnv === undefined ? undefined : SOURCE_ENV.configFile;
    layers.push({ source, values: flattenSettings(readJsonFile(file, DOCUMENT, "config file", fileEnv), source) });
  }

  const outputsFromEnv = options.outputs === undefined ? nonEmpty(env[SOURCE_ENV.outputsFile]) : undefined;
  const outputs = options.outputs ?? outputsFromEnv;
  if (outputs !== undefined) {
    const outputsEnv = outputsFromEnv === undefined ? undefined : SOURCE_ENV.outputsFile;
    const document = typeof outputs === "string" ? loadStackOutputsFile(outputs, outputsEnv) : outputs;
    const source = typeof outputs === "string" ? `stack outputs ${outputs}` : "stack outputs";
    const values = flattenSettings(configFromStackOutputs(document, options.outputsNetwork), source);
    layers.push({ source, values });
  }

  for (const spec of SETTINGS) {
    const raw = env[spec.env];
    if (raw !== undefined) layers.push({ source: `env ${spec.env}`, values: [[spec.path, raw]] });
  }
  reportUnknownEnv(env, options.unknownEnv ?? "warn");

  if (options.overrides !== undefined) {
    layers.push({ source: "override", values: flattenSettings(options.overrides, "override") });
  }

  const config = newConvictConfig();
  const origin = new Map<string, string>(SETTINGS.map((spec) => [spec.path, DEFAULTS_SOURCE]));
  for (const layer of layers) {
    for (const [path, value] of layer.values) {
      config.set(path, typeof value === "string" && !VERBATIM_FORMATS.has(settingSpec(path)?.format ?? "") ? value.trim() : value);
      origin.set(path, layer.source);
    }
  }

  const settingError = (path: string, problem: string): ConfigError =>
    new ConfigError(path, settingSpec(path)?.env, origin.get(path) ?? "defaults", problem);

  for (const spec of SETTINGS) {
    try {
      FORMATS_BY_PATH[spec.path].validate(config.get(spec.path as never));
    } catch (error) {
      throw settingError(spec.path, (error as Error).message);
    }
  }
  // convict's own strict pass, as the schema's net. Its flattening splits keys on dots, and
  // natMap keys are IP addresses, so the (already checked) natMap is set aside meanwhile.
  const natMap = config.get("cluster.natMap");
  config.set("cluster.natMap", {});
  try {
    config.validate({ allowed: "strict" });
  } catch (error) {
    throw new ConfigError("(config)", undefined, "merged sources", (error as Error).message);
  }
  // Keys as ioredis looks them up: a bracketed IPv6 key (`[::1]:7000`) would never match.
  config.set("cluster.natMap", canonicalNatMap(natMap));

  const result = config.getProperties();
  checkCrossFieldRules(result, settingError, origin);
  recordSources(result, origin);
  return protectConfig(result) as LoadedConfig<O>;
}

function checkCrossFieldRules(
  config: ConnectorConfig,
  settingError: (path: string, problem: string) => ConfigError,
  origin: ReadonlyMap<string, string>,
): void {
  if (config.topology === "cluster" && config.cluster.nodes.length === 0) {
    throw settingError("cluster.nodes",
      `topology is cluster (from ${origin.get("topology")}) but no seed nodes are configured (host:port,host:port)`);
  }
  if (config.username !== "" && config.password === "") {
    throw settingError("username", "a username needs a password (REDIS_PASSWORD); leave REDIS_USERNAME empty for Redis 5");
  }
}

/** Free text is taken as written (a password may end in a space); every other string setting ignores surrounding whitespace. */
const VERBATIM_FORMATS = new Set<string>(["password", "text"]);

/** Other `REDIS_*` names of this project's packages (redis-local's binaries), not typos. */
const OTHER_KNOWN_ENV = ["REDIS_SERVER_BIN", "REDIS_CLI_BIN"];
const warnedEnv = new Set<string>();

function reportUnknownEnv(env: NodeJS.ProcessEnv, mode: "warn" | "error" | "ignore"): void {
  if (mode === "ignore") return;
  const known = [...SETTINGS.map((s) => s.env), ...Object.values(SOURCE_ENV)];
  for (const name of Object.keys(env)) {
    if (!name.startsWith("REDIS_") || known.includes(name) || OTHER_KNOWN_ENV.includes(name)) continue;
    const problem = `unknown variable ${name} is not a connector setting and is ignored${didYouMean(name, known)}`;
    if (mode === "error") throw new ConfigError(name, name, `env ${name}`, `${problem} (loadConfig option unknownEnv: "warn" or "ignore" allows it)`);
    if (warnedEnv.has(name)) continue;
    warnedEnv.add(name);
    process.emitWarning(`redis-connector: ${problem}`, { code: "REDIS_CONNECTOR_UNKNOWN_ENV" });
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
