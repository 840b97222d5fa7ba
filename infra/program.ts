/**
 * The stack project's program: `redis-on-docker:*` stack config -> one `RedisOnDocker` component
 * (`@redis-on-docker/pulumi`) -> the stack exports. `infra/index.ts` is the entry point Pulumi
 * runs; tests call `defineRedisStack` directly.
 */
import * as pulumi from "@pulumi/pulumi";
import { RedisOnDocker, type RedisOnDockerOutputs } from "@redis-on-docker/pulumi";
import { CONFIG_NAMESPACE, validateStackSettings, type StackSettings } from "@redis-on-docker/topology";

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
 * The whole topology for `settings`, as the stack declares it (component name: the name prefix).
 * The password reaches the component as a secret.
 */
export function defineRedisStack(settings: StackSettings): RedisStackExports {
  const { password, ...rest } = settings;
  return new RedisOnDocker(settings.namePrefix, {
    ...rest,
    ...(password === undefined ? {} : { password: pulumi.secret(password) }),
  }).outputs();
}
