/** The parts of `RedisOnDocker`; each renders one part of the topology plan. */
export { RedisNetwork, type RedisNetworkArgs } from "./redisNetwork";
export { RedisServer, type RedisServerArgs, HEALTHCHECK, HEALTHY_WAIT_TIMEOUT_SEC } from "./redisServer";
export { RedisClusterNodes, type RedisClusterNodesArgs, type NodeHost } from "./redisClusterNodes";
export { RedisClusterBootstrap, type RedisClusterBootstrapArgs, checkBootstrapExit } from "./redisClusterBootstrap";
