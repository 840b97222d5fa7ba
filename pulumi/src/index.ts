/**
 * `@redis-on-docker/pulumi`: Redis standalone + Redis Cluster on Docker as one Pulumi component,
 * `new RedisOnDocker(name, args, opts)`, whose outputs are the outputs contract.
 */
export { RedisOnDocker, type RedisOnDockerArgs, type RedisOnDockerHost, type RedisOnDockerOutputs } from "./redisOnDocker";
export { SettingError, type Persistence } from "@redis-on-docker/topology";
export type { StackOutputs, Endpoint, StandaloneOutputs, ClusterOutputs } from "@redis-on-docker/outputs";
export * as components from "./components";
export { checkDockerEngineVersion, engineVersionAt } from "./dockerEngineVersion";
