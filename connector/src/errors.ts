/**
 * The connector's error classes that every layer throws, so one `instanceof` check serves
 * config, outputs document, async and sync clients alike: `ConfigError` for bad input,
 * `CommandTimeoutError` for a command without a reply within its bound. (The sync facade's
 * own classes live in sync/syncErrors.ts.)
 */

/** `setting` value for a problem with a whole document (unreadable file, bad JSON). */
export const DOCUMENT = "(document)";

/**
 * The one error type for bad configuration input. It names the setting, its env var and
 * the source the bad value came from, and never carries a secret value.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Setting path, e.g. `standalone.port`, or an outputs field such as `cluster.seeds[1].port`. */
  readonly setting: string;
  /** The env var that sets it, when there is one (e.g. `REDIS_PORT`). */
  readonly envVar: string | undefined;
  /** Where the bad value came from: `env REDIS_PORT`, `config file /x.json`, `stack outputs /o.json`, `override`... */
  readonly source: string;

  constructor(setting: string, envVar: string | undefined, source: string, problem: string) {
    const envPart = envVar === undefined ? "" : ` (env ${envVar})`;
    super(setting === DOCUMENT
      ? `Invalid ${source}: ${problem}`
      : `Invalid setting ${setting}${envPart} from ${source}: ${problem}`);
    this.setting = setting;
    this.envVar = envVar;
    this.source = source;
  }
}

/** A command (or the sync facade's start-up) got no reply within its bound (`commandTimeoutMs`). */
export class CommandTimeoutError extends Error {
  override get name(): string {
    return "CommandTimeoutError";
  }
}

/** What ioredis's own `commandTimeout` rejects with: a plain Error with just this message. */
export const IOREDIS_TIMEOUT_MESSAGE = "Command timed out";

/** The message both forms give a command that got no reply within commandTimeoutMs. */
export function commandTimeoutMessage(commandName: string | undefined, commandTimeoutMs: number): string {
  const what = commandName === undefined || commandName === "" ? "the command" : commandName.toUpperCase();
  return `${IOREDIS_TIMEOUT_MESSAGE}: ${what} got no reply within ${commandTimeoutMs} ms (commandTimeoutMs)`;
}
