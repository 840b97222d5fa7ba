/**
 * Stack settings: what `Pulumi.<stack>.yaml` (namespace `redis-on-docker`) can say,
 * after validation. Every field has a default except where noted; see `readStackSettings`.
 */

/** How a node keeps its data across restarts. */
export type Persistence = "none" | "rdb" | "aof";

export interface StackSettings {
  /** Docker image with `redis-server` and `redis-cli` on PATH. Config key `image`. Default `redis:5.0.4`. */
  image: string;
  /** Number of cluster nodes (masters + replicas). Config key `clusterNodes`. Default 6. */
  clusterNodes: number;
  /** Replicas per master, passed to `--cluster-replicas`. Config key `replicasPerMaster`. Default 1. */
  replicasPerMaster: number;
  /** IPv4 CIDR of the Docker network, so nodes get static IPs. Config key `subnet`. Default `172.28.0.0/24`. */
  subnet: string;
  /** First host port: standalone gets it, cluster node i gets `hostPortBase + 1 + i`. Config key `hostPortBase`. Default 7000. */
  hostPortBase: number;
  /** Host address the published ports bind to. Config key `hostBindAddress`. Default `127.0.0.1`. */
  hostBindAddress: string;
  /** Password for every node (`requirepass` + `masterauth`); a Pulumi secret. Config key `password`. Default none. */
  password?: string;
  /** Deploy without a password; must be said explicitly. Config key `allowNoPassword`. Default false. */
  allowNoPassword: boolean;
  /** `cluster-node-timeout` in ms. Config key `nodeTimeoutMs`. Default 5000. */
  nodeTimeoutMs: number;
  /** Persistence of every node. Config key `persistence`. Default `none`. */
  persistence: Persistence;
  /** Prefix of container and network names. Config key `namePrefix`. Default `redis`. */
  namePrefix: string;
  /** Bound on the bootstrap job (wait for nodes, create, wait for `cluster_state:ok`), in s. Config key `bootstrapTimeoutSec`. Default 60. */
  bootstrapTimeoutSec: number;
}
