/**
 * The one error type for bad configuration input. It names the setting, its env var and
 * the source the bad value came from, and never carries a secret value.
 */
/** `setting` value for a problem with a whole document (unreadable file, bad JSON). */
export const DOCUMENT = "(document)";

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
