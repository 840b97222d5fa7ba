/**
 * Pulumi entry point (Pulumi.yaml `main: infra/`), a thin user of `@redis-on-docker/pulumi`.
 * Each field of the outputs contract is a top-level stack output, so
 * `pulumi stack output --json --show-secrets` is the outputs document.
 */
import { defineRedisStack, readHostEngines, readStackSettings } from "./program";

const stack = defineRedisStack(readStackSettings(), readHostEngines());

export const schemaVersion = stack.schemaVersion;
export const redisImage = stack.redisImage;
export const redisVersion = stack.redisVersion;
export const passwordRequired = stack.passwordRequired;
export const password = stack.password;
export const standalone = stack.standalone;
export const cluster = stack.cluster;
