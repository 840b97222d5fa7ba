/**
 * GENERATED copy of outputs/src/index.ts (the outputs contract), so the connector's package
 * carries the contract's types and installs alone. Edit outputs/src/index.ts, then run
 * `node scripts/copy-outputs-contract.js`; test/connector/packaging.test.ts fails on any drift.
 */
/**
 * The outputs contract: one JSON document, written by the Pulumi component's outputs (the stack's
 * exports, `pulumi stack output --json --show-secrets`) and by the local runner's outputs file,
 * and read (validated) by the connector. Types only, importing nothing: every package depends on
 * this leaf, and it on none of them. Keep the writers and the connector's validator in step.
 */

/** An address as `host` + `port`. */
export interface Endpoint {
  host: string;
  port: number;
}

export interface StandaloneOutputs {
  /** Where a client on the host reaches the standalone server (published port). */
  host: string;
  port: number;
  /** Where a client inside the Docker network reaches it (container IP and port). */
  internalHost: string;
  internalPort: number;
}

export interface ClusterOutputs {
  /** Seed nodes as the host sees them (published ports). */
  seeds: Endpoint[];
  /** Seed nodes as seen inside the Docker network (what the nodes announce). */
  internalSeeds: Endpoint[];
  /**
   * Announced `ip:port` -> host-reachable address, in ioredis `natMap` form.
   * Empty when the nodes announce addresses the host can reach directly (local runner).
   */
  natMap: Record<string, Endpoint>;
  /** Replicas per master the cluster was created with. */
  replicasPerMaster: number;
}

export interface StackOutputs {
  /** Version of this contract. */
  schemaVersion: 1;
  /** Image the nodes run, e.g. `redis:5.0.4`. */
  redisImage: string;
  /** Redis server version the nodes run, e.g. `5.0.4`. */
  redisVersion: string;
  /** Whether every node requires a password. */
  passwordRequired: boolean;
  /** The password (a Pulumi secret); `""` when none is required. */
  password: string;
  standalone: StandaloneOutputs;
  cluster: ClusterOutputs;
}
