/**
 * The topology plan, shared by every realisation (the Pulumi component, the local runner, the
 * Docker replay): validated settings -> nodes, redis.conf, the cluster bootstrap script and the
 * outputs document. Pure: no I/O, no Pulumi, no processes.
 */
export * from "./settings";
export * from "./plan";
export { BOOTSTRAP_LINE_MAX, FORMATION_NODE_TIMEOUT_MS, renderBootstrapScript, type BootstrapScriptArgs } from "./bootstrapScript";
