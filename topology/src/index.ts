/**
 * The topology plan, shared by every realisation (the Pulumi component, the local runner, the
 * Docker replay): validated settings -> nodes, redis.conf, the cluster bootstrap script and the
 * outputs document. Pure: no Pulumi, no processes, no I/O but reading the bootstrap's shell file
 * that ships with it.
 */
export * from "./settings";
export * from "./plan";
export { BOOTSTRAP_LINE_MAX, BOOTSTRAP_SCRIPT_FILE, FORMATION_NODE_TIMEOUT_MS, renderBootstrapScript, type BootstrapScriptArgs } from "./bootstrapScript";
export { renderRedisConf, quoteConfigArgument } from "./redisConf";
