/**
 * The topology plan: a pure function from validated stack settings to everything that
 * the realisations (Pulumi components, local runner, Docker replay) need. It holds no
 * secrets: the password is added by `renderRedisConf` where a realisation writes files.
 */
import type { Endpoint, StackOutputs } from "@redis-on-docker/outputs";
import { renderBootstrapScript, type BootstrapScriptArgs } from "./bootstrapScript";
import {
  CLUSTER_BUS_PORT_OFFSET,
  FIRST_NODE_IP_OFFSET,
  GATEWAY_OFFSET,
  STANDALONE_IP_OFFSET,
  SettingError,
  dynamicRangeOf,
  formatIpv4,
  parseIpv4Cidr,
  type HostSpec,
  type Persistence,
  type StackSettings,
} from "./settings";

/** Port every node listens on inside its container. */
export const CONTAINER_PORT = 6379;
/** Where a node's redis.conf is placed inside its container. */
export const CONTAINER_CONFIG_PATH = "/usr/local/etc/redis/redis.conf";
/** Where the bootstrap job's script and password file are placed inside its container. */
export const BOOTSTRAP_SCRIPT_PATH = "/usr/local/bin/redis-cluster-bootstrap.sh";
export const BOOTSTRAP_PASSWORD_PATH = "/run/secrets/redis-password";

export type NodeRole = "standalone" | "cluster";

/** One redis-server: a container in Docker, a process in the local runner. */
export interface NodePlan {
  /** Container (and resource) name, unique in the stack, e.g. `redis-node-0`. */
  name: string;
  role: NodeRole;
  /** Static IP on the stack network. */
  ip: string;
  /** Port redis-server listens on inside the container. */
  port: number;
  /** Published host port, and the host address it binds to. */
  hostPort: number;
  hostBindAddress: string;
  /**
   * redis.conf directives in order, without secrets: `[name, value]` pairs such as
   * `["cluster-enabled", "yes"]`. `renderRedisConf` turns them into the file. A value is the
   * directive's arguments separated by single spaces (`["save", "900 1"]`); `""` is one empty
   * argument (`save ""`). A name may repeat (`save`).
   */
  directives: Array<[string, string]>;
  /** The container command: `redis-server <CONTAINER_CONFIG_PATH>`. */
  command: string[];
  /** Healthcheck command (works with or without a password: NOAUTH counts as alive). */
  healthcheck: string[];
  /**
   * Named Docker volume mounted at `CONTAINER_DATA_DIR`: it outlives the container, so data and the
   * node's cluster identity (`nodes.conf`) survive a replacement (the image's anonymous `/data`
   * volume would be removed with the container).
   */
  dataVolume: string;
  /** Multi-host plans only: the name of the host (`HostSpec.name`) the node runs on. */
  host?: string;
  /**
   * Multi-host plans only: the published cluster bus port (client `hostPort` + 10000, bound like
   * it), which the node announces with `cluster-announce-bus-port`.
   */
  hostBusPort?: number;
  /** Multi-host plans only, replicas only: the name of the node this one is planned to replicate. */
  replicaOf?: string;
}

/** A master and the replicas the plan gives it, as indexes into `BootstrapPlan.nodes`. */
export interface ReplicaGroup {
  master: number;
  replicas: number[];
}

/** One host of a multi-host plan and what runs on it. */
export interface HostPlan extends HostSpec {
  /** Where its published ports bind (`bindAddress`, defaulting to `address`). */
  bindAddress: string;
  /** Names of the nodes on it (the standalone node lives on the first host). */
  nodes: string[];
}

/** The one-shot job that forms the cluster. */
export interface BootstrapPlan {
  name: string;
  /** Node addresses on the stack network, in creation order (masters first). */
  nodes: Endpoint[];
  replicasPerMaster: number;
  /** Bound on the whole job, in seconds. */
  timeoutSec: number;
  /**
   * Multi-host plans only: the planned master -> replicas pairs, which the bootstrap enforces
   * (redis-cli's own anti-affinity spreads by IP, not by this plan).
   */
  groups?: ReplicaGroup[];
  /** Multi-host plans only: the host of each entry of `nodes`, for the placement check. */
  nodeHosts?: string[];
  /** Multi-host plans only: whether the placement check restores the spread (`restoreSpread`). */
  restoreSpread?: boolean;
  /** The container command: `sh <BOOTSTRAP_SCRIPT_PATH>`. */
  command: string[];
  /** The script's text (see `renderBootstrapScript`). */
  script: string;
}

export interface NetworkPlan {
  name: string;
  subnet: string;
  gateway: string;
  /** Where Docker picks dynamic addresses: the subnet's upper half, away from every static address. */
  ipRange: string;
}

export interface TopologyPlan {
  image: string;
  network: NetworkPlan;
  standalone: NodePlan;
  clusterNodes: NodePlan[];
  bootstrap: BootstrapPlan;
  /** Multi-host plans only (two or more `hosts`): each host and the nodes placed on it. */
  hosts?: HostPlan[];
  /** Whether the nodes' data volumes stay when the stack is destroyed (`retainDataVolumes`). */
  retainDataVolumes: boolean;
  /** The outputs document, less the password (added by the realisation as a secret). */
  outputs: Omit<StackOutputs, "password">;
}

/** Directory of a node's data (RDB, AOF, `nodes.conf`) inside its container. */
export const CONTAINER_DATA_DIR = "/data";
/** Healthcheck that needs no password: a node that answers NOAUTH is up. */
export const HEALTHCHECK_COMMAND = [
  "CMD-SHELL",
  `redis-cli -p ${CONTAINER_PORT} ping 2>&1 | grep -Eq 'PONG|NOAUTH'`,
];

/** Plans the whole topology; throws a `SettingError` naming the setting when it cannot be realised. */
export function planTopology(settings: StackSettings): TopologyPlan {
  const prefix = settings.namePrefix;
  const cidr = parseIpv4Cidr(settings.subnet);
  if (cidr === undefined) {
    throw new SettingError("redis-on-docker:subnet", `redis-on-docker:subnet: ${JSON.stringify(settings.subnet)} is not an IPv4 CIDR`);
  }
  const hostCount = 2 ** (32 - cidr.prefix);
  const addressAt = (offset: number): string => {
    // Offsets must stay inside the subnet and short of its broadcast address.
    if (offset >= hostCount - 1) {
      throw new SettingError(
        "redis-on-docker:subnet",
        `redis-on-docker:subnet: ${settings.subnet} has no room for address base+${offset}`,
      );
    }
    return formatIpv4((cidr.base + offset) >>> 0);
  };
  const lastPort = settings.hostPortBase + settings.clusterNodes;
  if (lastPort > 65535) {
    throw new SettingError(
      "redis-on-docker:hostPortBase",
      `redis-on-docker:hostPortBase: ports ${settings.hostPortBase}..${lastPort} run past 65535`,
    );
  }

  // Fresh arrays per node, so a realisation that edits one node's plan cannot change another's.
  const common = (name: string) => ({
    port: CONTAINER_PORT,
    dataVolume: `${name}-data`,
    hostBindAddress: settings.hostBindAddress,
    command: ["redis-server", CONTAINER_CONFIG_PATH],
    healthcheck: [...HEALTHCHECK_COMMAND],
  });
  const baseDirectives: Array<[string, string]> = [
    ["port", String(CONTAINER_PORT)],
    // All interfaces of the container: the published port is what limits exposure (hostBindAddress).
    ["bind", "0.0.0.0"],
    // The password protects the node; protected mode would refuse the other nodes and the host.
    ["protected-mode", "no"],
    ["dir", CONTAINER_DATA_DIR],
    ...persistenceDirectives(settings.persistence),
  ];

  const standalone: NodePlan = {
    name: `${prefix}-standalone`,
    role: "standalone",
    ip: addressAt(STANDALONE_IP_OFFSET),
    hostPort: settings.hostPortBase,
    directives: baseDirectives.map(([k, v]) => [k, v]),
    ...common(`${prefix}-standalone`),
  };
  const clusterNodes: NodePlan[] = [];
  for (let i = 0; i < settings.clusterNodes; i++) {
    clusterNodes.push({
      name: `${prefix}-node-${i}`,
      role: "cluster",
      ip: addressAt(FIRST_NODE_IP_OFFSET + i),
      hostPort: settings.hostPortBase + 1 + i,
      directives: [
        ...baseDirectives.map(([k, v]): [string, string] => [k, v]),
        ["cluster-enabled", "yes"],
        ["cluster-config-file", "nodes.conf"],
        ["cluster-node-timeout", String(settings.nodeTimeoutMs)],
        // A replica's first sync starts at once instead of after the 5 s default delay of
        // diskless sync (on by default since Redis 7); until then a killed master has no
        // up-to-date replica to fail over to. Redis 5 knows the directive too.
        ["repl-diskless-sync-delay", "0"],
      ],
      ...common(`${prefix}-node-${i}`),
    });
  }

  if (settings.minReplicasToWrite > 0) {
    for (const node of clusterNodes) {
      node.directives.push(
        ["min-replicas-to-write", String(settings.minReplicasToWrite)],
        ["min-replicas-max-lag", String(settings.minReplicasMaxLagSec)],
      );
    }
  }
  const multiHost = settings.hosts.length >= 2 ? placeOnHosts(settings, standalone, clusterNodes) : undefined;

  // Across hosts, the nodes announce their hosts' addresses: those are what the bootstrap,
  // the other nodes and every client use, so no natMap is needed.
  const internalSeeds: Endpoint[] = multiHost
    ? multiHost.announced.map((e) => ({ ...e }))
    : clusterNodes.map((n) => ({ host: n.ip, port: n.port }));
  const bootstrap: BootstrapPlan = {
    name: `${prefix}-cluster-bootstrap`,
    nodes: internalSeeds.map((e) => ({ ...e })),
    replicasPerMaster: settings.replicasPerMaster,
    timeoutSec: settings.bootstrapTimeoutSec,
    ...(multiHost
      ? {
          groups: multiHost.groups.map((g) => ({ master: g.master, replicas: [...g.replicas] })),
          nodeHosts: clusterNodes.map((n) => n.host as string),
          restoreSpread: settings.restoreSpread,
        }
      : {}),
    command: ["sh", BOOTSTRAP_SCRIPT_PATH],
    script: renderBootstrapScript({
      nodes: internalSeeds.map((e) => ({ ...e })),
      replicasPerMaster: settings.replicasPerMaster,
      timeoutSec: settings.bootstrapTimeoutSec,
      passwordFile: BOOTSTRAP_PASSWORD_PATH,
      nodeTimeoutMs: settings.nodeTimeoutMs,
      ...(multiHost ? placementScriptArgs(internalSeeds, multiHost.groups, clusterNodes, settings.restoreSpread) : {}),
    }),
  };

  const reachableHost = multiHost ? multiHost.hosts[0].address : hostReachableAddress(settings.hostBindAddress);
  const natMap: Record<string, Endpoint> = {};
  if (!multiHost) {
    for (const node of clusterNodes) natMap[`${node.ip}:${node.port}`] = { host: reachableHost, port: node.hostPort };
  }

  return {
    image: settings.image,
    network: { name: `${prefix}-net`, subnet: settings.subnet, gateway: addressAt(GATEWAY_OFFSET), ipRange: dynamicRangeOf(cidr) },
    standalone,
    clusterNodes,
    bootstrap,
    ...(multiHost ? { hosts: multiHost.hosts } : {}),
    retainDataVolumes: settings.retainDataVolumes,
    outputs: {
      schemaVersion: 1,
      redisImage: settings.image,
      redisVersion: redisVersionOf(settings.image),
      passwordRequired: settings.password !== undefined,
      standalone: {
        host: reachableHost,
        port: standalone.hostPort,
        internalHost: standalone.ip,
        internalPort: standalone.port,
      },
      cluster: {
        seeds: multiHost
          ? multiHost.announced.map((e) => ({ ...e }))
          : clusterNodes.map((n) => ({ host: reachableHost, port: n.hostPort })),
        internalSeeds,
        natMap,
        replicasPerMaster: settings.replicasPerMaster,
      },
    },
  };
}

/**
 * The bootstrap script's multi-host arguments: planned pairs and each node's host, from the plan.
 * Realisations that reach the nodes at other addresses (the local runner) pass their own `nodes`.
 */
export function placementScriptArgs(
  nodes: Endpoint[],
  groups: ReplicaGroup[],
  clusterNodes: Array<Pick<NodePlan, "host">>,
  restoreSpread: boolean,
): Pick<BootstrapScriptArgs, "pairs" | "nodeHosts" | "restoreSpread"> {
  return {
    pairs: groups.flatMap((g) => g.replicas.map((r): [Endpoint, Endpoint] => [{ ...nodes[g.master] }, { ...nodes[r] }])),
    nodeHosts: clusterNodes.map((n) => n.host ?? "?"),
    restoreSpread,
  };
}

/** Where each cluster node goes and which master each replica serves (see `planPlacement`). */
export interface Placement {
  /** `hostOf[i]`: index into the hosts of cluster node `i`. */
  hostOf: number[];
  groups: ReplicaGroup[];
}

/**
 * Spreads `nodeCount` cluster nodes (masters first: nodes `0..M-1` are the masters, and master
 * `g`'s replicas are nodes `M + g*r .. M + g*r + r-1`) over `hostCount` hosts so that no master
 * shares a host with any of its replicas: group `g`'s k-th member goes to host `(g + k) mod H`,
 * which are `r + 1` different hosts when `H >= r + 1`. Masters rotate over the hosts, so losing one
 * host loses as few masters as possible. Throws when `H < r + 1`.
 */
export function planPlacement(nodeCount: number, replicasPerMaster: number, hostCount: number): Placement {
  const groupSize = replicasPerMaster + 1;
  if (hostCount < groupSize) {
    throw new SettingError(
      "redis-on-docker:hosts",
      `redis-on-docker:hosts: ${hostCount} host(s) cannot keep each master apart from its ${replicasPerMaster} replica(s); ` +
        `every master and its replicas need ${groupSize} different hosts`,
    );
  }
  const masters = nodeCount / groupSize;
  const hostOf: number[] = new Array<number>(nodeCount).fill(0);
  const groups: ReplicaGroup[] = [];
  for (let g = 0; g < masters; g++) {
    hostOf[g] = g % hostCount;
    const replicas: number[] = [];
    for (let k = 1; k <= replicasPerMaster; k++) {
      const index = masters + g * replicasPerMaster + (k - 1);
      hostOf[index] = (g + k) % hostCount;
      replicas.push(index);
    }
    groups.push({ master: g, replicas });
  }
  return { hostOf, groups };
}

/** Puts the nodes on their hosts: host, bind address, announced address and ports. */
function placeOnHosts(
  settings: StackSettings,
  standalone: NodePlan,
  clusterNodes: NodePlan[],
): { hosts: HostPlan[]; groups: ReplicaGroup[]; announced: Endpoint[] } {
  const { hostOf, groups } = planPlacement(clusterNodes.length, settings.replicasPerMaster, settings.hosts.length);
  const hosts: HostPlan[] = settings.hosts.map((h) => ({ name: h.name, address: h.address, bindAddress: h.bindAddress ?? h.address, nodes: [] }));
  standalone.host = hosts[0].name;
  standalone.hostBindAddress = hosts[0].bindAddress;
  hosts[0].nodes.push(standalone.name);
  const announced: Endpoint[] = [];
  clusterNodes.forEach((node, i) => {
    const host = hosts[hostOf[i]];
    node.host = host.name;
    node.hostBindAddress = host.bindAddress;
    node.hostBusPort = node.hostPort + CLUSTER_BUS_PORT_OFFSET;
    node.directives.push(
      ["cluster-announce-ip", host.address],
      ["cluster-announce-port", String(node.hostPort)],
      ["cluster-announce-bus-port", String(node.hostBusPort)],
    );
    host.nodes.push(node.name);
    announced.push({ host: host.address, port: node.hostPort });
  });
  for (const group of groups) {
    for (const r of group.replicas) clusterNodes[r].replicaOf = clusterNodes[group.master].name;
  }
  return { hosts, groups, announced };
}

function persistenceDirectives(persistence: Persistence): Array<[string, string]> {
  switch (persistence) {
    case "none":
      return [
        ["save", ""],
        ["appendonly", "no"],
      ];
    case "rdb":
      return [
        ["save", "900 1"],
        ["save", "300 10"],
        ["save", "60 10000"],
        ["appendonly", "no"],
      ];
    case "aof":
      return [
        ["save", ""],
        ["appendonly", "yes"],
        ["appendfsync", "everysec"],
      ];
  }
}

/** A wildcard bind address is reachable from the host through loopback. */
export function hostReachableAddress(bindAddress: string): string {
  if (bindAddress === "0.0.0.0") return "127.0.0.1";
  if (bindAddress === "::" || bindAddress === "0:0:0:0:0:0:0:0") return "::1";
  return bindAddress;
}

/** The image tag when it reads as a version (`redis:5.0.4-alpine` -> `5.0.4`), else `unknown`. */
export function redisVersionOf(image: string): string {
  const name = image.split("@")[0];
  const tagStart = name.indexOf(":", name.lastIndexOf("/") + 1);
  if (tagStart === -1) return "unknown";
  const match = /^v?(\d+(?:\.\d+){0,2})(?:[-_.+][\w.-]*)?$/.exec(name.slice(tagStart + 1));
  return match ? match[1] : "unknown";
}

