#!/usr/bin/env node
/**
 * `redis-local`, the CLI of the local runner: `up` starts the stack as background redis-server
 * processes (they outlive the CLI) and writes the outputs document; `down` stops them; `status`
 * tells whether they run. State lives in `.local-stack/` in the current directory.
 *
 * There is no `--password <value>` option on purpose: a value on the command line is
 * visible to every user through `ps`. Use `--password-file` or LOCAL_STACK_PASSWORD.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { onInterrupt } from "./exitCleanup";
import { LOCAL_DEFAULTS, checkPlacement, startLocalStack, type LocalStackOptions } from "./runner";
import { liveRecordedNodes, readStackRecord, stopRecordedStack, type LocalStackRecord } from "./stackRecord";
import { CONFIG_NAMESPACE, PERSISTENCE_VALUES, type Persistence } from "@redis-on-docker/topology";

const DEFAULT_STATE_DIR = ".local-stack";
const STATE_FILE = "state.json";
/** `status` exit code when nothing runs (as `systemctl status`). */
const EXIT_NOT_RUNNING = 3;
/** `placement` exit code when the nodes are not spread as planned. */
const EXIT_MISPLACED = 1;

/**
 * The stack settings `up` takes as flags. Their defaults are the local runner's (`LOCAL_DEFAULTS`),
 * and `--help` and the messages that name a flag are made from this table.
 */
const SETTING_FLAGS = [
  { flag: "cluster-nodes", arg: "<n>", key: "clusterNodes", help: "cluster nodes, masters + replicas" },
  { flag: "replicas", arg: "<n>", key: "replicasPerMaster", help: "replicas per master" },
  { flag: "node-timeout-ms", arg: "<ms>", key: "nodeTimeoutMs", help: "cluster-node-timeout" },
  { flag: "persistence", arg: "<mode>", key: "persistence", help: PERSISTENCE_VALUES.join(" | ") },
] as const satisfies ReadonlyArray<{ flag: string; arg: string; key: keyof typeof LOCAL_DEFAULTS; help: string }>;

/** `  --flag <arg>` padded to the help's second column. */
const option = (usage: string, help: string): string => `  ${usage.padEnd(24)}  ${help}`;

const USAGE = `Usage: redis-local <up|down|status|placement> [options]

Runs Redis locally, without Docker: one standalone redis-server and a Redis Cluster
(3 masters + 3 replicas by default) on free ports of 127.0.0.1, formed with the same
bootstrap script as the Pulumi stack, and writes the same outputs document.

Commands:
  up        start the servers in the background, form the cluster, write the outputs
  down      stop the servers started by 'up' and remove their files
  status    say whether they run (exit 0 when up, ${EXIT_NOT_RUNNING} when not)
  placement for a cluster spread over hosts: report a master that shares a host with
            one of its replicas, or a planned master serving as a replica after failovers
            (exit 0 when as planned, ${EXIT_MISPLACED} when not); with --restore, restore the spread
            (CLUSTER FAILOVER to planned masters, CLUSTER REPLICATE of a replica back to its
            planned master). On one host there is nothing to spread.

Options:
  --outputs <file>          where 'up' writes the outputs document
                            (default .local-stack/outputs.json, mode 0600: it holds the password)
  --state-dir <dir>         where the state file lives (default .local-stack in the current directory)
  --password-file <file>    password for every node (default: LOCAL_STACK_PASSWORD, else generated)
  --no-password             servers without a password
${SETTING_FLAGS.map((f) => option(`--${f.flag} ${f.arg}`, `${f.help} (default ${LOCAL_DEFAULTS[f.key]})`)).join("\n")}
  --restore                 placement: restore the planned spread (opt-in)
  -q, --quiet               no progress lines
  -h, --help                this text

Binaries: redis-server and redis-cli from PATH, or the files named by REDIS_SERVER_BIN and
REDIS_CLI_BIN (nothing is downloaded; when they are missing, the error says how to install).
A stack started by 'up' runs until 'down'; the library (startLocalStack) and the test hooks
stop theirs when their process ends.`;

class UsageError extends Error {}

function integerOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name}: ${JSON.stringify(value)} is not a whole number`);
  return Number(value);
}

function readPassword(file: string | undefined, none: boolean): string | undefined {
  if (none) {
    if (file !== undefined) throw new UsageError("--no-password and --password-file exclude each other");
    return "";
  }
  if (file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      throw new UsageError(`--password-file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
    const password = text.replace(/\r?\n$/, "");
    if (password === "") throw new UsageError(`--password-file: ${file} is empty (use --no-password for servers without one)`);
    return password;
  }
  const fromEnv = process.env.LOCAL_STACK_PASSWORD;
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}

function readState(stateFile: string): LocalStackRecord | undefined {
  return fs.existsSync(stateFile) ? readStackRecord(stateFile) : undefined;
}

function removeStateFiles(stateDir: string, stateFile: string): void {
  fs.rmSync(stateFile, { force: true });
  try {
    fs.rmdirSync(stateDir); // only when empty: it may hold the user's own files
  } catch {
    // Not empty or already gone.
  }
}

/** The topology's messages speak Pulumi config (`redis-on-docker:<key> in local runner options`); this CLI's, its flags. */
const FLAG_OF_SETTING: Array<[RegExp, string]> = SETTING_FLAGS.flatMap(({ key, flag }): Array<[RegExp, string]> => [
  [new RegExp(`${CONFIG_NAMESPACE}:${key} in local runner options`, "g"), `--${flag}`],
  [new RegExp(`${CONFIG_NAMESPACE}:${key}`, "g"), `--${flag}`],
]);

function inFlagTerms(message: string): string {
  return FLAG_OF_SETTING.reduce((text, [pattern, flag]) => text.replace(pattern, flag), message);
}

// `redis-local status | head -1`: the reader is gone, so is the need to write; no EPIPE stack.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      outputs: { type: "string" },
      "state-dir": { type: "string" },
      "password-file": { type: "string" },
      "no-password": { type: "boolean" },
      "cluster-nodes": { type: "string" },
      replicas: { type: "string" },
      "node-timeout-ms": { type: "string" },
      persistence: { type: "string" },
      restore: { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "a command is missing" : `one command only, got ${positionals.join(" ")}`);
  const command = positionals[0];
  const stateDir = path.resolve(values["state-dir"] ?? DEFAULT_STATE_DIR);
  const stateFile = path.join(stateDir, STATE_FILE);
  const stateDirArg = values["state-dir"] ? ` --state-dir ${stateDir}` : "";
  const log = values.quiet ? (): void => undefined : (line: string): void => void process.stderr.write(`redis-local: ${line}\n`);

  switch (command) {
    case "up": {
      const persistence = values.persistence;
      if (persistence !== undefined && !(PERSISTENCE_VALUES as readonly string[]).includes(persistence)) {
        throw new UsageError(`--persistence: ${JSON.stringify(persistence)} is not one of ${PERSISTENCE_VALUES.join(", ")}`);
      }
      const options: LocalStackOptions = {
        password: readPassword(values["password-file"], values["no-password"] ?? false),
        clusterNodes: integerOption("cluster-nodes", values["cluster-nodes"]),
        replicasPerMaster: integerOption("replicas", values.replicas),
        nodeTimeoutMs: integerOption("node-timeout-ms", values["node-timeout-ms"]),
        persistence: persistence as Persistence | undefined,
        outputsFile: path.resolve(values.outputs ?? path.join(stateDir, "outputs.json")),
        detached: true,
        log,
      };
      const previous = readState(stateFile);
      if (previous) {
        const live = liveRecordedNodes(previous);
        if (live.length > 0) {
          throw new Error(
            `a local stack is already up (${live.length} redis-server processes, state in ${stateFile}); ` +
              `stop it first with 'redis-local down${stateDirArg}'`,
          );
        }
        log(`cleaning up a stopped stack left in ${stateFile}`);
        await stopRecordedStack(previous, log);
        removeStateFiles(stateDir, stateFile);
      }
      fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      // Ctrl-C (or SIGTERM/SIGHUP) before the stack is up: say so, and what was cleaned.
      onInterrupt(({ signal, processesStopped, pathsRemoved }) => {
        removeStateFiles(stateDir, stateFile);
        process.stderr.write(
          `redis-local: up interrupted (${signal}) before the stack was ready; stopped ${processesStopped} redis-server ` +
            `process(es), removed ${[...pathsRemoved, stateDir].join(", ")}; nothing is left running\n`,
        );
      });
      const stack = await startLocalStack(options).catch((error: unknown) => {
        removeStateFiles(stateDir, stateFile); // a failed `up` leaves no empty state dir behind
        throw error instanceof Error ? new Error(inFlagTerms(error.message)) : error;
      });
      onInterrupt(undefined);
      fs.writeFileSync(stateFile, JSON.stringify(stack.record(), null, 2) + "\n", { mode: 0o600 });
      const { standalone, cluster } = stack.outputs;
      process.stdout.write(
        `local stack up in ${stack.readyMs} ms\n` +
          `  standalone: ${standalone.host}:${standalone.port}\n` +
          `  cluster seeds: ${cluster.seeds.map((s) => `${s.host}:${s.port}`).join(" ")}\n` +
          `  password: ${stack.outputs.passwordRequired ? "required (in the outputs file)" : "none"}\n` +
          `  outputs: ${stack.outputsFile}\n` +
          `  stop with: redis-local down${stateDirArg}\n`,
      );
      return 0;
    }
    case "down": {
      const record = readState(stateFile);
      if (!record) {
        if (fs.existsSync(stateFile)) throw new Error(`${stateFile} is not a local stack state file; remove it by hand`);
        process.stdout.write(`no local stack is up (no ${stateFile})\n`);
        return 0;
      }
      await stopRecordedStack(record, log);
      removeStateFiles(stateDir, stateFile);
      process.stdout.write(`local stack down (${record.nodes.length} redis-server processes stopped, ${record.dir} removed)\n`);
      return 0;
    }
    case "status": {
      const record = readState(stateFile);
      const live = record ? liveRecordedNodes(record) : [];
      if (!record || live.length === 0) {
        process.stdout.write(record ? `local stack is down (stale state in ${stateFile}; 'down' removes it)\n` : "local stack is down\n");
        return EXIT_NOT_RUNNING;
      }
      process.stdout.write(`local stack is up: ${live.length} of ${record.nodes.length} redis-server processes running\n`);
      for (const node of record.nodes) {
        process.stdout.write(`  ${node.name} 127.0.0.1:${node.port} pid ${node.pid} ${live.includes(node) ? "running" : "NOT RUNNING"}\n`);
      }
      process.stdout.write(`  outputs: ${record.outputsFile}\n`);
      return 0;
    }
    case "placement": {
      const record = readState(stateFile);
      if (!record || liveRecordedNodes(record).length === 0) {
        process.stdout.write("local stack is down\n");
        return EXIT_NOT_RUNNING;
      }
      const report = await checkPlacement(record, { restore: values.restore ?? false, log });
      for (const line of report.lines) process.stdout.write(`${line}\n`);
      return report.asPlanned ? 0 : EXIT_MISPLACED;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    const usage = error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS");
    process.stderr.write(`redis-local: error: ${error.message}\n${usage ? "Run with --help for usage.\n" : ""}`);
    process.exitCode = usage ? 2 : 1;
  },
);
