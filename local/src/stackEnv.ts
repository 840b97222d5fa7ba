/**
 * The `REDIS_*` variables a test run gets from a local stack: the outputs file (which the
 * connector reads by itself) and the endpoints and password as plain values for tests that use
 * ioredis or another client directly. The names are the connector's own settings.
 */
import type { StackOutputs } from "@redis-on-docker/outputs";

/** Which variables the test hooks set (and restore afterwards). */
export const STACK_ENV_NAMES = ["REDIS_OUTPUTS_FILE", "REDIS_HOST", "REDIS_PORT", "REDIS_CLUSTER_NODES", "REDIS_PASSWORD"] as const;
export type StackEnvName = (typeof STACK_ENV_NAMES)[number];

export function stackEnv(stack: { outputs: StackOutputs; outputsFile: string }): Record<StackEnvName, string> {
  const { standalone, cluster, password } = stack.outputs;
  return {
    REDIS_OUTPUTS_FILE: stack.outputsFile,
    REDIS_HOST: standalone.host,
    REDIS_PORT: String(standalone.port),
    REDIS_CLUSTER_NODES: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(","),
    REDIS_PASSWORD: password,
  };
}
