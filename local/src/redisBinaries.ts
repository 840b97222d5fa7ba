/**
 * Where the runner finds `redis-server` and `redis-cli`: the file an env var names, else the
 * first executable on PATH. Nothing is downloaded: when a binary is missing the error says how
 * to install it, so a test run fails at once with the fix in its message.
 */
import fs from "node:fs";
import path from "node:path";

/** Env vars that name the binaries explicitly (e.g. a Redis 5 build outside PATH). */
export const REDIS_SERVER_BIN_ENV = "REDIS_SERVER_BIN";
export const REDIS_CLI_BIN_ENV = "REDIS_CLI_BIN";

export interface RedisBinaries {
  /** Absolute path of `redis-server`. */
  server: string;
  /** Absolute path of `redis-cli` (the cluster bootstrap runs it). */
  cli: string;
}

/** A binary the runner needs is not installed (or an env var names a file that cannot run). */
export class MissingRedisBinaryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MissingRedisBinaryError";
  }
}

const INSTALL_HINT =
  "Install Redis (any version from 5.0.4 on):\n" +
  "  Debian/Ubuntu: sudo apt-get install redis-server   (brings redis-cli too)\n" +
  "  macOS (Homebrew): brew install redis\n" +
  `or point ${REDIS_SERVER_BIN_ENV} and ${REDIS_CLI_BIN_ENV} at the binaries.`;

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.resolve(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function resolveOne(name: string, envVar: string, env: NodeJS.ProcessEnv): string {
  const explicit = env[envVar];
  if (explicit !== undefined && explicit !== "") {
    // A bare name is looked up on PATH, as the shell would.
    const file = explicit.includes("/") ? path.resolve(explicit) : findOnPath(explicit, env.PATH ?? "");
    if (file === undefined || !isExecutableFile(file)) {
      throw new MissingRedisBinaryError(`${envVar}=${explicit}: no executable file there.\n${INSTALL_HINT}`);
    }
    return file;
  }
  const found = findOnPath(name, env.PATH ?? "");
  if (found === undefined) {
    throw new MissingRedisBinaryError(`${name} not found on PATH (and ${envVar} is not set).\n${INSTALL_HINT}`);
  }
  return found;
}

/** Both binaries, or a `MissingRedisBinaryError` saying how to install what is missing. */
export function findRedisBinaries(env: NodeJS.ProcessEnv = process.env): RedisBinaries {
  return {
    server: resolveOne("redis-server", REDIS_SERVER_BIN_ENV, env),
    cli: resolveOne("redis-cli", REDIS_CLI_BIN_ENV, env),
  };
}
