/**
 * Stack settings: what `Pulumi.<stack>.yaml` (namespace `redis-on-docker`) can say,
 * after validation. Every field has a default except where noted; see `validateStackSettings`.
 */
import { isIP } from "node:net";

/** Config namespace of every setting (`redis-on-docker:<key>`). */
export const CONFIG_NAMESPACE = "redis-on-docker";

/** The values `persistence` accepts. */
export const PERSISTENCE_VALUES = Object.freeze(["none", "rdb", "aof"] as const);
/** How a node keeps its data across restarts. */
export type Persistence = (typeof PERSISTENCE_VALUES)[number];

/**
 * One Docker host of a multi-host stack. `address` is how the other hosts and the clients reach
 * it: every node on it announces that address (`cluster-announce-ip`), so it must be an IP
 * address (Redis 5's cluster bus carries no host names). The Pulumi component adds each host's
 * `docker.Provider` alongside.
 */
export interface HostSpec {
  /** Unique name, e.g. `host-a`; used in messages and in the placement. */
  name: string;
  /** IP address other hosts and clients reach this host at. */
  address: string;
  /**
   * Address the host's published ports bind to. Default: `address` (a multi-host cluster must be
   * reachable from the other hosts; firewall those ports to them and to the clients).
   */
  bindAddress?: string;
}

/**
 * The validated settings. Each field's doc is the one description of that setting: its first
 * paragraph is the "meaning" column of the README tables (test/topology/settingsDocs.test.ts
 * checks them) and `@defaultValue` must match `DEFAULT_SETTINGS`. `RedisOnDockerArgs` and the
 * local runner's options reuse these fields, docs included.
 */
export interface StackSettings {
  /**
   * Docker image with `redis-server` and `redis-cli` on PATH.
   * @defaultValue `redis:5.0.4`
   */
  image: string;
  /**
   * Cluster nodes, masters + replicas (at least 3 masters).
   * @defaultValue `6`
   */
  clusterNodes: number;
  /**
   * Replicas per master, passed to `--cluster-replicas`.
   * @defaultValue `1`
   */
  replicasPerMaster: number;
  /**
   * The Docker network's IPv4 subnet, so nodes get static IPs: static addresses in its lower half,
   * dynamic ones (its `ipRange`, e.g. the bootstrap job's) in its upper half. The default lies
   * outside Docker's default address pools, where it could collide ("Pool overlaps").
   *
   * Docker's default pools are 172.17-31.0.0/16 and 192.168.0.0/16; a network Docker made by
   * itself there makes a fixed subnet's create fail.
   * @defaultValue `10.213.0.0/24`
   */
  subnet: string;
  /**
   * First host port: the standalone server gets it, cluster node *i* gets `hostPortBase + 1 + i`
   * (not 7000 by default: macOS 12+ holds it for AirPlay Receiver).
   * @defaultValue `6380`
   */
  hostPortBase: number;
  /**
   * Host address the published ports bind to (never all interfaces unless said).
   * @defaultValue `127.0.0.1`
   */
  hostBindAddress: string;
  /**
   * Password of every node (`requirepass` + `masterauth`); a Pulumi secret. Required unless
   * `allowNoPassword`.
   */
  password?: string;
  /**
   * Must be true to deploy without a password.
   * @defaultValue `false`
   */
  allowNoPassword: boolean;
  /**
   * `cluster-node-timeout` of every node, in ms.
   * @defaultValue `5000`
   */
  nodeTimeoutMs: number;
  /**
   * Persistence of every node: `aof` (appendfsync everysec), `rdb` or `none`; with `none` every
   * container that `pulumi up` replaces (new password, image, ...) comes back without its keys.
   * @defaultValue `aof`
   */
  persistence: Persistence;
  /**
   * Prefix of container, volume and network names (Docker names are global: one prefix per deployment).
   * @defaultValue `redis`
   */
  namePrefix: string;
  /**
   * Bound on the bootstrap job (wait for the nodes, create, wait until they agree), in s.
   * @defaultValue `60`
   */
  bootstrapTimeoutSec: number;
  /**
   * Keep the nodes' named data volumes when the stack (or component) is destroyed; they are always
   * kept across a container's replacement.
   * @defaultValue `false`
   */
  retainDataVolumes: boolean;
  /**
   * The Docker hosts the cluster is spread over: a list of `{ name, address, bindAddress? }` (or
   * its JSON text). Empty: one host, the single-host plan. With two or more, every master is placed
   * on another host than each of its replicas, and every node announces its host's address and
   * published ports.
   * @defaultValue `[]`
   */
  hosts: HostSpec[];
  /**
   * `min-replicas-to-write` of every cluster node: a master refuses writes while fewer replicas
   * than this are connected with a lag of at most `minReplicasMaxLagSec`, so a master cut off from
   * its replicas stops accepting writes that its replacement would lose. 0 is off (Redis' default):
   * an isolated master accepts writes until it notices the cut (`cluster-node-timeout`). With 1 and
   * one replica per master, a promoted replica refuses writes until its old master returns; use
   * `replicasPerMaster: 2` to keep writing (see docs/provisioning.md for the measured windows).
   * @defaultValue `0`
   */
  minReplicasToWrite: number;
  /**
   * `min-replicas-max-lag` in s (see `minReplicasToWrite`).
   * @defaultValue `10`
   */
  minReplicasMaxLagSec: number;
  /**
   * Restore the hosts spread after failovers: when the bootstrap's healing path (or `redis-local
   * placement --restore`) finds a planned master serving as a replica, it makes it master again
   * with `CLUSTER FAILOVER`; a replica that follows a master on its own host goes back to its
   * planned master with `CLUSTER REPLICATE`. False: the check only reports.
   * @defaultValue `false`
   */
  restoreSpread: boolean;
}

/** Settings that can be left out, with the value used then (the only place defaults are stated). */
export const DEFAULT_SETTINGS: Readonly<Omit<StackSettings, "password">> = Object.freeze({
  image: "redis:5.0.4",
  clusterNodes: 6,
  replicasPerMaster: 1,
  subnet: "10.213.0.0/24",
  hostPortBase: 6380,
  hostBindAddress: "127.0.0.1",
  allowNoPassword: false,
  nodeTimeoutMs: 5000,
  persistence: "aof",
  namePrefix: "redis",
  bootstrapTimeoutSec: 60,
  retainDataVolumes: false,
  hosts: [] as HostSpec[],
  minReplicasToWrite: 0,
  minReplicasMaxLagSec: 10,
  restoreSpread: false,
});

export type SettingKey = keyof StackSettings;

/** Every key once, in the order the docs list them (an object, so the compiler checks that none is missing). */
const KEY_ORDER: { readonly [K in SettingKey]-?: true } = {
  image: true,
  clusterNodes: true,
  replicasPerMaster: true,
  subnet: true,
  hostPortBase: true,
  hostBindAddress: true,
  password: true,
  allowNoPassword: true,
  nodeTimeoutMs: true,
  persistence: true,
  namePrefix: true,
  bootstrapTimeoutSec: true,
  retainDataVolumes: true,
  hosts: true,
  minReplicasToWrite: true,
  minReplicasMaxLagSec: true,
  restoreSpread: true,
};
/** Every setting key (config key without the `redis-on-docker:` namespace). */
export const SETTING_KEYS: readonly SettingKey[] = Object.freeze(Object.keys(KEY_ORDER) as SettingKey[]);

/** Offsets from the subnet's base address (see `planTopology`); kept here so validation and plan agree. */
export const GATEWAY_OFFSET = 1;
export const STANDALONE_IP_OFFSET = 10;
export const FIRST_NODE_IP_OFFSET = 11;

/** A node's cluster bus port is its client port + this (Redis 5 has no `cluster-port` to change it). */
export const CLUSTER_BUS_PORT_OFFSET = 10000;

/** Redis 5's `CONFIG_AUTHPASS_MAX_LEN`: longer `requirepass` values make redis-server refuse its config. */
export const MAX_PASSWORD_BYTES = 512;

/** A stack setting that cannot be used; `setting` is the full config key, e.g. `redis-on-docker:clusterNodes`. */
export class SettingError extends Error {
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(message);
    this.name = "SettingError";
    this.setting = setting;
  }
}

/**
 * Validates raw stack config (keys with or without the `redis-on-docker:` prefix; values as
 * Pulumi hands them over, i.e. strings, or typed values from tests) and applies the defaults.
 * Throws a `SettingError` naming the key and `source`; never puts the password in a message.
 */
export function validateStackSettings(
  raw: Record<string, unknown>,
  source = "Pulumi.<stack>.yaml",
): StackSettings {
  const values = new Map<SettingKey, unknown>();
  for (const [rawKey, value] of Object.entries(raw)) {
    const key = rawKey.startsWith(`${CONFIG_NAMESPACE}:`) ? rawKey.slice(CONFIG_NAMESPACE.length + 1) : rawKey;
    if (!(SETTING_KEYS as readonly string[]).includes(key)) {
      // The value is not shown: an unknown key may be a misspelt password.
      throw new SettingError(
        rawKey.includes(":") ? rawKey : `${CONFIG_NAMESPACE}:${key}`,
        `${rawKey.includes(":") ? rawKey : `${CONFIG_NAMESPACE}:${key}`} in ${source}: unknown setting; ` +
          `known settings are ${SETTING_KEYS.map((k) => `${CONFIG_NAMESPACE}:${k}`).join(", ")}`,
      );
    }
    if (value !== undefined) values.set(key as SettingKey, value);
  }
  // Annotated so that `v.fail(): never` narrows types after it.
  const v: Validator = new Validator(values, source);

  const image = v.string("image", DEFAULT_SETTINGS.image);
  if (!isImageReference(image)) {
    v.fail("image", `${JSON.stringify(image)} is not a Docker image reference (e.g. redis:5.0.4 or registry:5000/team/redis@sha256:<64 hex>)`);
  }

  const clusterNodes = v.integer("clusterNodes", DEFAULT_SETTINGS.clusterNodes, 1, 1000);
  const replicasPerMaster = v.integer("replicasPerMaster", DEFAULT_SETTINGS.replicasPerMaster, 0, 100);
  const groupSize = replicasPerMaster + 1;
  const masters = clusterNodes / groupSize;
  if (!Number.isInteger(masters) || masters < 3) {
    v.fail(
      "clusterNodes",
      `${clusterNodes} nodes with ${replicasPerMaster} replica(s) per master do not form a cluster: ` +
        `it needs a whole number of at least 3 masters, each with ${replicasPerMaster} replica(s) ` +
        `(use a multiple of ${groupSize} that is at least ${3 * groupSize}, or change redis-on-docker:replicasPerMaster)`,
    );
  }

  const subnet = v.string("subnet", DEFAULT_SETTINGS.subnet);
  const cidr = parseIpv4Cidr(subnet);
  if (cidr === undefined) {
    v.fail("subnet", `${JSON.stringify(subnet)} is not an IPv4 CIDR such as 172.28.0.0/24`);
  }
  if (cidr.base !== (cidr.base & prefixMask(cidr.prefix)) >>> 0) {
    v.fail(
      "subnet",
      `${subnet} has host bits set; the network address is ${formatIpv4((cidr.base & prefixMask(cidr.prefix)) >>> 0)}/${cidr.prefix}`,
    );
  }
  // Static addresses (gateway, standalone, nodes) live in the lower half; the upper half is the
  // dynamic range (see dynamicRangeOf). The last node sits at base + FIRST_NODE_IP_OFFSET + nodes - 1.
  const lastOffset = FIRST_NODE_IP_OFFSET + clusterNodes - 1;
  if (cidr.prefix >= 31 || lastOffset >= 2 ** (32 - cidr.prefix - 1)) {
    v.fail(
      "subnet",
      `${subnet} is too small: the gateway, the standalone node (base+${STANDALONE_IP_OFFSET}) and ${clusterNodes} cluster nodes ` +
        `(base+${FIRST_NODE_IP_OFFSET}..base+${lastOffset}) take the lower half and dynamic addresses the upper half, ` +
        `which needs a prefix of at most /${largestPrefixFor(lastOffset) - 1}`,
    );
  }

  const hostPortBase = v.integer("hostPortBase", DEFAULT_SETTINGS.hostPortBase, 1, 65535);
  // The standalone node takes hostPortBase, the cluster nodes the next `clusterNodes` ports.
  if (hostPortBase + clusterNodes > 65535) {
    v.fail(
      "hostPortBase",
      `${hostPortBase} leaves no room for ${clusterNodes + 1} consecutive host ports ` +
        `(${hostPortBase}..${hostPortBase + clusterNodes} must stay <= 65535)`,
    );
  }

  const hostBindAddress = v.string("hostBindAddress", DEFAULT_SETTINGS.hostBindAddress);
  if (isIP(hostBindAddress) === 0) {
    v.fail("hostBindAddress", `${JSON.stringify(hostBindAddress)} is not an IP address (e.g. 127.0.0.1)`);
  }

  const allowNoPassword = v.boolean("allowNoPassword", DEFAULT_SETTINGS.allowNoPassword);
  const password = v.password();
  if (password === undefined && !allowNoPassword) {
    v.fail(
      "password",
      `no password is set; set one with \`pulumi config set --secret ${CONFIG_NAMESPACE}:password <value>\` ` +
        `or deploy without one by setting ${CONFIG_NAMESPACE}:allowNoPassword to true`,
    );
  }

  const nodeTimeoutMs = v.integer("nodeTimeoutMs", DEFAULT_SETTINGS.nodeTimeoutMs, 1, 2 ** 31 - 1);
  const bootstrapTimeoutSec = v.integer("bootstrapTimeoutSec", DEFAULT_SETTINGS.bootstrapTimeoutSec, 1, 3600);

  const persistence = v.string("persistence", DEFAULT_SETTINGS.persistence);
  if (!(PERSISTENCE_VALUES as readonly string[]).includes(persistence)) {
    v.fail("persistence", `${JSON.stringify(persistence)} is not one of ${PERSISTENCE_VALUES.join(", ")}`);
  }

  const namePrefix = v.string("namePrefix", DEFAULT_SETTINGS.namePrefix);
  // Docker's container-name grammar, kept short so `<prefix>-cluster-bootstrap` stays readable.
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,39}$/.test(namePrefix)) {
    v.fail(
      "namePrefix",
      `${JSON.stringify(namePrefix)} is not a usable name prefix: 1-40 characters of [a-zA-Z0-9_.-], starting with a letter or digit`,
    );
  }

  const retainDataVolumes = v.boolean("retainDataVolumes", DEFAULT_SETTINGS.retainDataVolumes);
  const hosts = v.hosts();
  if (hosts.length >= 2 && hosts.length < groupSize) {
    v.fail(
      "hosts",
      `${hosts.length} hosts cannot keep each master apart from its ${replicasPerMaster} replica(s): ` +
        `every master and its replicas need ${groupSize} different hosts (add hosts, or lower redis-on-docker:replicasPerMaster)`,
    );
  }
  // Across hosts every node publishes its cluster bus port too: client port + 10000, as Redis derives it.
  if (hosts.length >= 2 && hostPortBase + clusterNodes + CLUSTER_BUS_PORT_OFFSET > 65535) {
    v.fail(
      "hostPortBase",
      `${hostPortBase} leaves no room for the cluster bus ports of ${hostPortBase + 1}..${hostPortBase + clusterNodes} ` +
        `(client port + ${CLUSTER_BUS_PORT_OFFSET}, so ${hostPortBase + clusterNodes + CLUSTER_BUS_PORT_OFFSET} must stay <= 65535)`,
    );
  }
  if (hosts.length >= 2 && password === undefined) {
    // Across hosts the nodes listen on addresses other machines reach: never without a password.
    v.fail(
      "password",
      `required with ${hosts.length} hosts (their nodes' ports are reachable from other machines); ${CONFIG_NAMESPACE}:allowNoPassword is for one host only`,
    );
  }
  const minReplicasToWrite = v.integer("minReplicasToWrite", DEFAULT_SETTINGS.minReplicasToWrite, 0, 100);
  if (minReplicasToWrite > replicasPerMaster) {
    v.fail(
      "minReplicasToWrite",
      `${minReplicasToWrite} is more than the ${replicasPerMaster} replica(s) per master (redis-on-docker:replicasPerMaster): every master would refuse every write`,
    );
  }
  const minReplicasMaxLagSec = v.integer("minReplicasMaxLagSec", DEFAULT_SETTINGS.minReplicasMaxLagSec, 1, 3600);
  const restoreSpread = v.boolean("restoreSpread", DEFAULT_SETTINGS.restoreSpread);

  const settings: StackSettings = {
    image,
    clusterNodes,
    replicasPerMaster,
    subnet,
    hostPortBase,
    hostBindAddress,
    allowNoPassword,
    nodeTimeoutMs,
    persistence: persistence as Persistence,
    namePrefix,
    bootstrapTimeoutSec,
    retainDataVolumes,
    hosts,
    minReplicasToWrite,
    minReplicasMaxLagSec,
    restoreSpread,
  };
  if (password !== undefined) settings.password = password;
  return settings;
}

/** Reads typed values out of the raw map, failing with the key and the source. */
class Validator {
  constructor(
    private readonly values: Map<SettingKey, unknown>,
    private readonly source: string,
  ) {}

  fail(key: SettingKey, problem: string): never {
    const setting = `${CONFIG_NAMESPACE}:${key}`;
    throw new SettingError(setting, `${setting} in ${this.source}: ${problem}`);
  }

  string(key: Exclude<SettingKey, "password">, fallback: string): string {
    const value = this.values.get(key);
    if (value === undefined) return fallback;
    if (typeof value !== "string") this.fail(key, `must be a string, got ${describe(value)}`);
    return value;
  }

  integer(key: SettingKey, fallback: number, min: number, max: number): number {
    const value = this.values.get(key);
    if (value === undefined) return fallback;
    let n: number;
    if (typeof value === "number") n = value;
    else if (typeof value === "string" && /^\s*-?\d+\s*$/.test(value)) n = Number(value);
    else return this.fail(key, `must be an integer, got ${describe(value)}`);
    if (!Number.isInteger(n)) this.fail(key, `must be an integer, got ${n}`);
    if (n < min || n > max) this.fail(key, `must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  boolean(key: SettingKey, fallback: boolean): boolean {
    const value = this.values.get(key);
    if (value === undefined) return fallback;
    if (typeof value === "boolean") return value;
    if (value === "true") return true;
    if (value === "false") return false;
    return this.fail(key, `must be true or false, got ${describe(value)}`);
  }

  /** The hosts list: a list of `{ name, address, bindAddress? }`, or its JSON text (Pulumi config strings). */
  hosts(): HostSpec[] {
    let value = this.values.get("hosts");
    if (value === undefined) return [];
    if (typeof value === "string") {
      try {
        value = JSON.parse(value) as unknown;
      } catch {
        return this.fail("hosts", "must be a list of { name, address, bindAddress? } (or its JSON text); the text is not JSON");
      }
    }
    if (!Array.isArray(value)) return this.fail("hosts", `must be a list of { name, address, bindAddress? }, got ${describe(value)}`);
    const hosts: HostSpec[] = [];
    const names = new Set<string>();
    const addresses = new Set<string>();
    value.forEach((entry: unknown, index) => {
      const at = `entry ${index + 1}`;
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        this.fail("hosts", `${at} must be { name, address, bindAddress? }, got ${describe(entry)}`);
      }
      const record = entry as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        // `provider` is the Pulumi component's (a docker.Provider per host), not the plan's.
        if (!["name", "address", "bindAddress", "provider"].includes(key)) this.fail("hosts", `${at} has an unknown field ${JSON.stringify(key)}; known fields are name, address, bindAddress`);
      }
      const { name, address, bindAddress } = record;
      if (typeof name !== "string" || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,39}$/.test(name)) {
        this.fail("hosts", `${at}: name must be 1-40 characters of [a-zA-Z0-9_.-], starting with a letter or digit, got ${describe(name)}`);
      }
      if (names.has(name)) this.fail("hosts", `${at}: name ${JSON.stringify(name)} is used twice`);
      if (typeof address !== "string" || isIP(address) === 0) {
        this.fail("hosts", `${at} (${name}): address must be an IP address that the other hosts and the clients reach it at (Redis 5 announces no host names), got ${describe(address)}`);
      }
      if (addresses.has(address)) this.fail("hosts", `${at} (${name}): address ${address} is used by another host`);
      if (bindAddress !== undefined && (typeof bindAddress !== "string" || isIP(bindAddress) === 0)) {
        this.fail("hosts", `${at} (${name}): bindAddress must be an IP address, got ${describe(bindAddress)}`);
      }
      names.add(name);
      addresses.add(address);
      hosts.push(bindAddress === undefined ? { name, address } : { name, address, bindAddress: bindAddress as string });
    });
    return hosts;
  }

  /** The password, never shown: messages describe what is wrong with it, not what it is. */
  password(): string | undefined {
    const value = this.values.get("password");
    if (value === undefined) return undefined;
    if (typeof value !== "string") return this.fail("password", `must be a string, got a ${typeof value}`);
    if (value === "") return undefined;
    if (/[\n\r\0]/.test(value)) {
      this.fail("password", "contains a line break or NUL character, which redis.conf cannot carry; choose another password");
    }
    const bytes = Buffer.byteLength(value, "utf8");
    if (bytes > MAX_PASSWORD_BYTES) {
      this.fail("password", `is ${bytes} bytes long; Redis 5 accepts at most ${MAX_PASSWORD_BYTES}`);
    }
    return value;
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  return Array.isArray(value) ? "a list" : `a ${typeof value}`;
}

// Docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest].
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?)`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_REFERENCE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

/** Whether `image` is a Docker image reference (name, optional registry, tag and digest). */
export function isImageReference(image: string): boolean {
  // Docker limits the repository name to 255 characters; tag (128) and digest (71) come on top.
  return image.length > 0 && image.length <= 255 + 1 + 128 + 71 && IMAGE_REFERENCE.test(image);
}

export interface Ipv4Cidr {
  /** Address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

/** Parses `a.b.c.d/p`; undefined when it is not one. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o, i) => o > 255 || String(o) !== match[i + 1]) || prefix > 32) return undefined;
  const base = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  return { base, prefix };
}

/**
 * The upper half of `subnet` as a CIDR: Docker's `ipRange`, where containers without a static
 * address (the bootstrap job) get theirs, so they can never take a node's static address.
 */
export function dynamicRangeOf(subnet: Ipv4Cidr): string {
  const prefix = subnet.prefix + 1;
  return `${formatIpv4((subnet.base + 2 ** (32 - prefix)) >>> 0)}/${prefix}`;
}

export function formatIpv4(address: number): string {
  return [24, 16, 8, 0].map((shift) => (address >>> shift) & 255).join(".");
}

function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The longest prefix whose broadcast address lies beyond `offset`. */
function largestPrefixFor(offset: number): number {
  let prefix = 32;
  while (prefix > 0 && 2 ** (32 - prefix) - 1 <= offset) prefix--;
  return prefix;
}
