/**
 * The topology plan: a pure function from validated stack settings to everything that
 * the realisations (Pulumi components, local runner, Docker replay) need. It holds no
 * secrets: the password is added by `renderRedisConf` where a realisation writes files.
 */
import type { Endpoint, StackOutputs } from "@redis-on-docker/connector";
import type { StackSettings } from "./settings";

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
   * `["cluster-enabled", "yes"]`. `renderRedisConf` turns them into the file.
   */
  directives: Array<[string, string]>;
  /** The container command: `redis-server <CONTAINER_CONFIG_PATH>`. */
  command: string[];
  /** Healthcheck command (works with or without a password: NOAUTH counts as alive). */
  healthcheck: string[];
}

/** The one-shot job that forms the cluster. */
export interface BootstrapPlan {
  name: string;
  /** Node addresses on the stack network, in creation order (masters first). */
  nodes: Endpoint[];
  replicasPerMaster: number;
  /** Bound on the whole job, in seconds. */
  timeoutSec: number;
  /** The container command: `sh <BOOTSTRAP_SCRIPT_PATH>`. */
  command: string[];
  /** The script's text (see `renderBootstrapScript`). */
  script: string;
}

export interface NetworkPlan {
  name: string;
  subnet: string;
  gateway: string;
}

export interface TopologyPlan {
  image: string;
  network: NetworkPlan;
  standalone: NodePlan;
  clusterNodes: NodePlan[];
  bootstrap: BootstrapPlan;
  /** The outputs document, less the password (added by the realisation as a secret). */
  outputs: Omit<StackOutputs, "password">;
}

/** Plans the whole topology; throws a `SettingError` naming the setting when it cannot be realised. */
export declare function planTopology(settings: StackSettings): TopologyPlan;
