#!/usr/bin/env node
/**
 * `redis-connector`: turns a stack outputs document into REDIS_* env lines for apps, and
 * checks a config against the server. Errors: one line on stderr, exit 1 (bad input) or 2 (usage).
 */
import { closeSync, fchmodSync, openSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadConfig } from "./config/load";
import { describeConfig, REDACTED } from "./config/redact";
import { settingSources } from "./config/provenance";
import { SETTINGS, SOURCE_ENV } from "./config/schema";
import type { ClientForm, ConnectorConfig, Topology } from "./config/types";
import { ENV_FORMAT_READERS, ENV_FORMATS, envEntries, EnvFormatError, envValue, formatEnv, type EnvFormat } from "./envFormat";
import { ConfigError } from "./errors";
import { loadStackOutputs } from "./outputs/load";
import { createAsyncClient } from "./client/asyncClient";
import { assertUsernameSupported } from "./client/aclProbe";
import { explainConnectionError, NotReadyError, waitUntilReady } from "./client/ready";

class UsageError extends Error {}

const ENV_PATHS = ["topology", "form", "standalone.host", "standalone.port", "cluster.nodes", "cluster.natMap", "password"];

function settingsHelp(): string {
  const lines = SETTINGS.map((spec) => {
    const def = spec.sensitive === true ? "(none)" : JSON.stringify(spec.default);
    return `  ${spec.env.padEnd(31)} ${spec.doc} Default ${def}.`;
  });
  return [
    "Settings (env var, meaning, default); sources, lowest to highest:",
    "defaults < config file < stack outputs document < REDIS_* env < code overrides.",
    "Surrounding whitespace is ignored, except in REDIS_PASSWORD and REDIS_KEY_PREFIX (taken verbatim).",
    "An unknown REDIS_* variable (a typo) gets a warning with a did-you-mean.",
    ...lines,
    `  ${SOURCE_ENV.configFile.padEnd(31)} JSON config file (nested like ConnectorConfig).`,
    `  ${SOURCE_ENV.outputsFile.padEnd(31)} Stack outputs document (JSON).`,
  ].join("\n");
}

const MAIN_HELP = `Usage: redis-connector <command> [options]

Commands:
  env     Print REDIS_* env lines for apps from a stack outputs document.
  check   Load the config from REDIS_* env (and files), connect, PING, report.
  help    Show this help (also --help; "<command> --help" for a command).

${settingsHelp()}
`;

const ENV_HELP = `Usage: redis-connector env (--file outputs.json | --stack S) [options]

Prints REDIS_* lines from a stack outputs document (the local runner's .local-stack/outputs.json,
a saved "pulumi stack output --json --show-secrets", or the Pulumi CLI run with --stack).

Options:
  --file PATH          Outputs document (JSON).
  --stack S            Run "pulumi stack output --json --show-secrets --stack S" instead.
  --format F           dotenv (default) | shell (export lines, POSIX-quoted) | json. Each value
                       reads back byte for byte, and never runs, in the readers its format names:
                         dotenv: ${ENV_FORMAT_READERS.dotenv}
                         shell:  ${ENV_FORMAT_READERS.shell}
                         json:   ${ENV_FORMAT_READERS.json}
                       A value a format cannot carry is refused (dotenv: a single quote together
                       with " $ \` or \\); nothing is written then. docker --env-file keeps quotes
                       as part of the value (docker/cli pkg/kvfile): no format here is for it.
  --topology T         Also print REDIS_TOPOLOGY=T (standalone | cluster).
  --form F             Also print REDIS_FORM=F (async | sync).
  --network N          host (default: published ports + natMap) | internal (container addresses).
  --include-secrets    Print REDIS_PASSWORD too. Without it the password line is left out and a
                       note goes to stderr.
  --out FILE           Write the lines to FILE instead of stdout, created (or reset) readable by
                       its owner only (mode 0600): the place for --include-secrets.
  -h, --help           This help.

Examples:
  redis-connector env --file .local-stack/outputs.json --include-secrets --out .env
  eval "$(redis-connector env --file .local-stack/outputs.json --format shell --include-secrets)"

${settingsHelp()}
`;

const CHECK_HELP = `Usage: redis-connector check [--config-file PATH] [--outputs-file PATH]

Loads the config (defaults < --config-file < --outputs-file < REDIS_* env), connects within
REDIS_CONNECT_TIMEOUT_MS, sends PING, prints the config (password redacted) and each setting
with the source it came from, and closes. A connection error names the source of the address
when it is not the default.
`;

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

function runEnv(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      file: { type: "string" },
      stack: { type: "string" },
      format: { type: "string", default: "dotenv" },
      topology: { type: "string" },
      form: { type: "string" },
      network: { type: "string", default: "host" },
      "include-secrets": { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help === true) {
    process.stdout.write(ENV_HELP);
    return 0;
  }
  const format = oneOf<EnvFormat>(values.format, ENV_FORMATS, "--format") ?? "dotenv";
  const topology = oneOf<Topology>(values.topology, ["standalone", "cluster"], "--topology");
  const form = oneOf<ClientForm>(values.form, ["async", "sync"], "--form");
  const network = oneOf(values.network, ["host", "internal"] as const, "--network") ?? "host";
  if (values.file !== undefined && values.stack !== undefined) throw new UsageError("give --file or --stack, not both");
  if (values.file === undefined && values.stack === undefined) {
    throw new UsageError("env needs an outputs document: --file outputs.json or --stack S");
  }
  const outputs = values.file !== undefined ? loadStackOutputs({ file: values.file }) : loadStackOutputs({ stack: values.stack });
  const overrides: { topology?: Topology; form?: ClientForm } = {};
  if (topology !== undefined) overrides.topology = topology;
  if (form !== undefined) overrides.form = form;
  // Only the document and the flags: the caller's own REDIS_* env must not leak into the lines.
  const config = loadConfig({ outputs, outputsNetwork: network, env: {}, overrides });
  const paths = ENV_PATHS.filter((p) => (p === "topology" ? topology !== undefined : p === "form" ? form !== undefined : true));
  const includeSecrets = values["include-secrets"] === true;
  let text: string;
  try {
    text = formatEnv(envEntries(config, paths, includeSecrets), format);
  } catch (error) {
    if (!(error instanceof EnvFormatError)) throw error;
    const spec = SETTINGS.find((s) => s.env === error.envVar);
    throw new ConfigError(spec?.path ?? error.envVar, error.envVar, "stack outputs", error.message);
  }
  if (values.out === undefined) process.stdout.write(text);
  else writePrivateFile(values.out, text);
  if (!includeSecrets && config.password !== "") {
    process.stderr.write("redis-connector: note: REDIS_PASSWORD left out (the servers need it); add --include-secrets to print it\n");
  }
  return 0;
}

/**
 * Writes `text` to `path` readable by its owner only: created 0600 whatever the umask, and
 * an existing file is reset to 0600 before anything is written into it.
 */
function writePrivateFile(path: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(path, "w", 0o600);
  } catch (error) {
    throw new Error(`--out ${path}: cannot write the file (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** One line per setting: env name, value (password masked), and the source it came from. */
function settingsWithSources(config: ConnectorConfig): string {
  const sources = settingSources(config) ?? {};
  const lines = SETTINGS.map((spec) => {
    const value = spec.sensitive === true ? (config.password === "" ? "" : REDACTED) : envValue(config, spec.path);
    return `  ${spec.env}=${value}  (from ${sources[spec.path] ?? "defaults"})`;
  });
  return `settings (value, source):\n${lines.join("\n")}\n`;
}

async function runCheck(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      "config-file": { type: "string" },
      "outputs-file": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help === true) {
    process.stdout.write(CHECK_HELP);
    return 0;
  }
  const config = loadConfig({ file: values["config-file"], outputs: values["outputs-file"] });
  await assertUsernameSupported(config);
  // The async client answers for both forms: the sync facade runs this same client in its worker.
  const client = createAsyncClient(config);
  try {
    await waitUntilReady(client, config.connectTimeoutMs);
    const reply = await client.ping();
    process.stdout.write(`ok: ${config.topology} ${reply} ${describeConfig(config)}\n${settingsWithSources(config)}`);
    return 0;
  } finally {
    client.disconnect();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(MAIN_HELP);
      return command === undefined ? 2 : 0;
    case "env":
      return runEnv(rest);
    case "check":
      return runCheck(rest);
    default:
      throw new UsageError(`unknown command "${command}" (commands: env, check, help)`);
  }
}

function failureLine(error: unknown): string {
  // NotReadyError's message already carries the explanation (and its hint) once.
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof NotReadyError) return error.message;
  if (error instanceof Error && (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS") === true) {
    return error.message;
  }
  if (error instanceof Error) return explainConnectionError(error);
  return String(error);
}

/**
 * Once the answer is written the run is over: a client's leftover timers (e.g. the ready check
 * still waiting on a peer that accepted but never answered) must not hold the process for
 * seconds. Unref'd: a process with nothing left exits at once, as before.
 */
const EXIT_GRACE_MS = 200;
function exitSoon(): void {
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    exitSoon();
  },
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as NodeJS.ErrnoException)?.code?.startsWith("ERR_PARSE_ARGS") === true;
    const hint = usage ? " (see --help)" : "";
    process.stderr.write(`redis-connector: ${failureLine(error).split("\n")[0]}${hint}\n`);
    process.exitCode = usage ? 2 : 1;
    exitSoon();
  },
);
