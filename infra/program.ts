/**
 * The stack project's program: `redis-on-docker:*` stack config -> one `RedisOnDocker` component
 * (`@redis-on-docker/pulumi`) -> the stack exports. `infra/index.ts` is the entry point Pulumi
 * runs; tests call `defineRedisStack` directly.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { RedisOnDocker, type RedisOnDockerOutputs } from "@redis-on-docker/pulumi";
import { CONFIG_NAMESPACE, SettingError, validateStackSettings, type StackSettings } from "@redis-on-docker/topology";

/** The stack's exports: one Output per field of the outputs contract. */
export type RedisStackExports = RedisOnDockerOutputs;

/**
 * Reads the `redis-on-docker:*` stack config and validates it; a bad value throws a
 * `SettingError` naming the key and `Pulumi.<stack>.yaml`. All keys of the namespace are read,
 * so a misspelt key is an error rather than silently ignored.
 */
export function readStackSettings(): StackSettings {
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(`${CONFIG_NAMESPACE}:`)) raw[key] = value;
  }
  return validateStackSettings(raw, `Pulumi.${pulumi.getStack()}.yaml`);
}

/**
 * The Docker engine of each entry of `redis-on-docker:hosts`, by host name: its `provider` field,
 * a Docker host URL such as `ssh://deploy@10.0.0.11` or `tcp://10.0.0.11:2376` (the plan itself
 * only knows name, address and bindAddress). Empty when the stack has no hosts.
 */
export function readHostEngines(): Record<string, string> {
  const raw = pulumi.runtime.allConfig()[`${CONFIG_NAMESPACE}:hosts`];
  if (raw === undefined) return {};
  let entries: unknown;
  try {
    entries = JSON.parse(raw);
  } catch {
    return {}; // readStackSettings names the bad value
  }
  const engines: Record<string, string> = {};
  if (Array.isArray(entries)) {
    for (const entry of entries as Array<Record<string, unknown>>) {
      if (typeof entry?.name === "string" && typeof entry.provider === "string") engines[entry.name] = entry.provider;
    }
  }
  return engines;
}

/**
 * The whole topology for `settings`, as the stack declares it (component name: the name prefix).
 * The password reaches the component as a secret. With `hosts`, each host's engine (`engines`,
 * see readHostEngines) gets a `docker.Provider` named `docker-<host>`.
 */
export function defineRedisStack(settings: StackSettings, engines: Record<string, string> = {}): RedisStackExports {
  const { password, hosts, ...rest } = settings;
  const withProviders = hosts.map((host, i) => {
    const engine = engines[host.name];
    if (engine === undefined || engine === "") {
      throw new SettingError(
        `${CONFIG_NAMESPACE}:hosts`,
        `${CONFIG_NAMESPACE}:hosts in Pulumi.${pulumi.getStack()}.yaml: entry ${i + 1} (${host.name}) has no provider: the Docker host URL of that host's engine, e.g. "ssh://deploy@${host.address}"`,
      );
    }
    return { ...host, provider: new docker.Provider(`docker-${host.name}`, { host: engine }) };
  });
  return new RedisOnDocker(settings.namePrefix, {
    ...rest,
    ...(withProviders.length === 0 ? {} : { hosts: withProviders }),
    ...(password === undefined ? {} : { password: pulumi.secret(password) }),
  }).outputs();
}
