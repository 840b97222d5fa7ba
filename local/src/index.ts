/**
 * `@redis-on-docker/local`: Redis standalone + Redis Cluster as local redis-server processes,
 * for tests and local development. `startLocalStack()` returns the stack; `stop()` tears it
 * down (it also goes when the process ends, is interrupted, or was SIGKILLed: the next start
 * reaps it). See also the `redis-local` CLI and the test hooks (`/mocha`, `/global-setup`).
 */
export {
  checkPlacement,
  LOCAL_DEFAULTS,
  startLocalStack,
  type LocalStack,
  type LocalStackOptions,
  type LocalNode,
  type LocalStackRecord,
  type PlacementReport,
} from "./runner";
export { registerExitCleanup, type CleanupEntry } from "./exitCleanup";
export type { LocalHostPlacement } from "./localNodes";
export { findRedisBinaries, MissingRedisBinaryError, REDIS_CLI_BIN_ENV, REDIS_SERVER_BIN_ENV, type RedisBinaries } from "./redisBinaries";
export { stackEnv, STACK_ENV_NAMES, type StackEnvName } from "./stackEnv";
export { startTestRunStack, type TestRunStack } from "./testRun";
export { createMochaHooks, mochaHooks, type MochaRootHooks } from "./mochaHooks";
export type { StackOutputs, Endpoint } from "@redis-on-docker/outputs";
