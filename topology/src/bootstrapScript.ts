/**
 * The cluster bootstrap: one POSIX sh script that forms the Redis Cluster, run by the
 * Docker one-shot job and by the local runner alike, so both form the cluster the same way.
 * The shell lives in `redis-cluster-bootstrap.sh` (shipped next to this module, checked by
 * `sh -n` and shellcheck); this module validates the settings and writes them in front of it.
 *
 * It needs only `redis-cli` and coreutils/busybox (`date`, `sed`, `tr`, `grep`, `awk`,
 * `sleep`, `cat`, `cut`, `sort`, optionally `timeout`), and runs under dash and busybox sh. Redis 5.0.4's redis-cli is
 * the oldest it must work with: the password travels in `REDISCLI_AUTH` (never `-a`, so it
 * is on no command line), and calls are bounded with `timeout` because that redis-cli has
 * no connect timeout of its own.
 */
import fs from "node:fs";
import path from "node:path";
import type { Endpoint } from "@redis-on-docker/outputs";

export interface BootstrapScriptArgs {
  /** Node addresses as the bootstrap reaches them, in creation order (masters first). */
  nodes: Endpoint[];
  /** Passed to `--cluster-replicas`. */
  replicasPerMaster: number;
  /** One deadline for the whole job: wait for nodes, create, wait for `cluster_state:ok`. */
  timeoutSec: number;
  /** Absolute path of a file holding the password; a missing or empty file means no password. */
  passwordFile: string;
  /**
   * The nodes' planned `cluster-node-timeout` (ms). When given, a fresh cluster forms with
   * FORMATION_NODE_TIMEOUT_MS (faster gossip), and every run ends by setting this value
   * again on every node. Without it, the nodes' timeouts are left alone.
   */
  nodeTimeoutMs?: number;
  /**
   * Multi-host plans: each replica's planned master, as `[master, replica]` addresses from `nodes`.
   * A fresh cluster is then created from the masters alone and each replica attached to its planned
   * master (redis-cli's anti-affinity spreads by IP, not by the plan); a node that comes back empty
   * rejoins its planned group. Without it, `--cluster-replicas` picks the replicas.
   */
  pairs?: Array<[Endpoint, Endpoint]>;
  /** Multi-host plans: the host name of each entry of `nodes` (same order), for the placement check. */
  nodeHosts?: string[];
  /** With `nodeHosts`: restore the planned spread (`CLUSTER FAILOVER`, `CLUSTER REPLICATE`) instead of only reporting. Default false. */
  restoreSpread?: boolean;
  /**
   * `form` (default): form or heal the cluster, then check the placement. `placement`: only check
   * (and, with `restoreSpread`, restore) the placement; exit 0 when it is as planned, 1 when not.
   */
  action?: "form" | "placement";
}

/**
 * `cluster-node-timeout` while a fresh cluster forms. Nodes ping each peer at least every
 * node-timeout/2, and that gossip is what redis-cli's join wait (1 s steps) and every node's
 * learning of the replicas' roles wait for: at 5000 ms that is up to 2.5 s per round, at
 * 250 ms it is 125 ms. The nodes are empty, and the planned value is set back before the job
 * reports ready (a spurious failure verdict meanwhile only delays agreement).
 */
export const FORMATION_NODE_TIMEOUT_MS = 250;

/** Longest line the job writes (bytes); longer ones are cut. */
export const BOOTSTRAP_LINE_MAX = 1000;

/** Redis Cluster needs at least this many masters (redis-cli refuses fewer). */
const MIN_MASTERS = 3;

// Hosts go into the script unquoted inside a word list, so only characters that cannot
// break out of it are allowed (IPv4, IPv6, host names).
const SAFE_HOST = /^[A-Za-z0-9._:-]+$/;

/** Quotes a value for sh: single quotes, with embedded quotes closed and escaped. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function validate(args: BootstrapScriptArgs): void {
  const { nodes, replicasPerMaster, timeoutSec, passwordFile } = args;
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new Error(`bootstrap: replicasPerMaster must be an integer >= 0, got ${String(replicasPerMaster)}`);
  }
  const minNodes = MIN_MASTERS * (replicasPerMaster + 1);
  if (nodes.length < minNodes) {
    throw new Error(
      `bootstrap: ${nodes.length} node(s) cannot form a cluster with ${replicasPerMaster} replica(s) per master ` +
        `(need at least ${minNodes}: ${MIN_MASTERS} masters)`,
    );
  }
  const seen = new Set<string>();
  for (const node of nodes) {
    if (!SAFE_HOST.test(node.host)) {
      throw new Error(`bootstrap: node host ${JSON.stringify(node.host)} is not an IP address or host name`);
    }
    if (!Number.isInteger(node.port) || node.port < 1 || node.port > 65535) {
      throw new Error(`bootstrap: node ${node.host} has an invalid port ${String(node.port)}`);
    }
    const address = `${node.host}:${node.port}`;
    if (seen.has(address)) throw new Error(`bootstrap: node ${address} is listed twice`);
    seen.add(address);
  }
  if (!Number.isInteger(timeoutSec) || timeoutSec < 1) {
    throw new Error(`bootstrap: timeoutSec must be an integer >= 1, got ${String(timeoutSec)}`);
  }
  if (args.nodeTimeoutMs !== undefined && (!Number.isInteger(args.nodeTimeoutMs) || args.nodeTimeoutMs < 1)) {
    throw new Error(`bootstrap: nodeTimeoutMs must be an integer >= 1, got ${String(args.nodeTimeoutMs)}`);
  }
  const planned = new Set(nodes.map((n) => `${n.host}:${n.port}`));
  for (const [master, replica] of args.pairs ?? []) {
    for (const end of [master, replica]) {
      if (!planned.has(`${end.host}:${end.port}`)) throw new Error(`bootstrap: pair member ${end.host}:${end.port} is not one of the nodes`);
    }
  }
  if (args.nodeHosts !== undefined) {
    if (args.nodeHosts.length !== nodes.length) {
      throw new Error(`bootstrap: nodeHosts lists ${args.nodeHosts.length} hosts for ${nodes.length} nodes`);
    }
    for (const host of args.nodeHosts) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(host)) throw new Error(`bootstrap: host name ${JSON.stringify(host)} is not [A-Za-z0-9_.-]`);
    }
  }
  if (!passwordFile.startsWith("/")) {
    throw new Error(`bootstrap: passwordFile must be an absolute path, got ${JSON.stringify(passwordFile)}`);
  }
}

/** The shell file this module renders, shipped next to it (in `src/` and in `dist/`). */
export const BOOTSTRAP_SCRIPT_FILE = path.join(__dirname, "redis-cluster-bootstrap.sh");

let scriptBody: string | undefined;

/** The shell file's text after its `#!` line, read once. */
function bootstrapBody(): string {
  if (scriptBody === undefined) {
    let text: string;
    try {
      text = fs.readFileSync(BOOTSTRAP_SCRIPT_FILE, "utf8");
    } catch (error) {
      throw new Error(
        `bootstrap: cannot read ${BOOTSTRAP_SCRIPT_FILE} (${(error as Error).message}); ` +
          "the @redis-on-docker/topology package is incomplete: rebuild it (npm run build -w topology) or reinstall it",
      );
    }
    scriptBody = text.slice(text.indexOf("\n") + 1);
  }
  return scriptBody;
}

/**
 * Renders the bootstrap script: `#!/bin/sh`, the settings as shell assignments, then
 * `redis-cluster-bootstrap.sh`. Exit 0 means the cluster is ready: every node reports
 * `cluster_state:ok` and knows all the nodes, every replica has synced, and every node's
 * `CLUSTER NODES` shows the same masters (all 16384 slots), the same replica of each, and
 * no node in handshake/fail?/fail/noaddr. Anything else exits non-zero with the reason on stderr.
 */
export function renderBootstrapScript(args: BootstrapScriptArgs): string {
  validate(args);
  const nodeList = args.nodes.map((n) => `${n.host}:${n.port}`).join(" ");
  // Numbers are validated integers; strings are quoted.
  const settings = [
    `NODES=${shellQuote(nodeList)}`,
    `NODE_COUNT=${args.nodes.length}`,
    `REPLICAS=${args.replicasPerMaster}`,
    `NODE_TIMEOUT_MS=${args.nodeTimeoutMs ?? ""}`,
    `FORMATION_TIMEOUT_MS=${FORMATION_NODE_TIMEOUT_MS}`,
    `TIMEOUT_SEC=${args.timeoutSec}`,
    `PASSWORD_FILE=${shellQuote(args.passwordFile)}`,
    `LINE_MAX=${BOOTSTRAP_LINE_MAX}`,
    `PAIRS=${shellQuote((args.pairs ?? []).map(([m, r]) => `${m.host}:${m.port}>${r.host}:${r.port}`).join(" "))}`,
    `PLACEMENT=${shellQuote((args.nodeHosts ?? []).map((host, i) => `${args.nodes[i].host}:${args.nodes[i].port}=${host}`).join(" "))}`,
    `RESTORE_SPREAD=${args.restoreSpread === true ? 1 : 0}`,
    `ACTION=${args.action ?? "form"}`,
  ];
  return [
    "#!/bin/sh",
    "# Settings written by renderBootstrapScript (@redis-on-docker/topology); the rest is its redis-cluster-bootstrap.sh.",
    ...settings,
    "",
  ].join("\n") + bootstrapBody();
}
