/**
 * Validation of an outputs document against the outputs contract (`@redis-on-docker/outputs`;
 * the connector builds its types in as generated/outputsContract.ts): the connector reads
 * what the stack or the local runner wrote.
 */
import { checkHost, checkPort, natMapKeyPort, type Endpoint } from "../endpoint";
import { ConfigError, DOCUMENT } from "../errors";
import type { StackOutputs } from "../generated/outputsContract";
import { parseJsonText } from "../jsonFile";

export type { Endpoint, StandaloneOutputs, ClusterOutputs, StackOutputs } from "../generated/outputsContract";

type Fields = Record<string, unknown>;

class OutputsReader {
  constructor(private readonly source: string) {}

  error(field: string, problem: string): ConfigError {
    return new ConfigError(field === "" ? "(root)" : field, undefined, this.source, problem);
  }

  object(value: unknown, field: string, keys: readonly string[]): Fields {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw this.error(field, "must be a JSON object");
    }
    const fields = value as Fields;
    const unknown = Object.keys(fields).filter((k) => !keys.includes(k));
    if (unknown.length > 0) {
      throw this.error(join(field, unknown[0]), `unknown field (the contract has: ${keys.join(", ")})`);
    }
    const missing = keys.filter((k) => !(k in fields));
    if (missing.length > 0) throw this.error(join(field, missing[0]), "is missing");
    return fields;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== "string") throw this.error(field, `must be a string, got ${describeType(value)}`);
    return value;
  }

  nonEmpty(value: unknown, field: string): string {
    const text = this.string(value, field);
    if (text === "") throw this.error(field, "must not be empty");
    return text;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== "boolean") throw this.error(field, `must be true or false, got ${describeType(value)}`);
    return value;
  }

  count(value: unknown, field: string): number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw this.error(field, `must be a non-negative integer, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  check(field: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      throw this.error(field, (error as Error).message);
    }
  }

  host(value: unknown, field: string): string {
    this.check(field, () => checkHost(value));
    return value as string;
  }

  port(value: unknown, field: string): number {
    this.check(field, () => checkPort(value));
    return value as number;
  }

  endpoint(value: unknown, field: string): Endpoint {
    const fields = this.object(value, field, ["host", "port"]);
    return { host: this.host(fields.host, `${field}.host`), port: this.port(fields.port, `${field}.port`) };
  }

  endpoints(value: unknown, field: string): Endpoint[] {
    if (!Array.isArray(value)) throw this.error(field, `must be a list of {host, port}, got ${describeType(value)}`);
    if (value.length === 0) throw this.error(field, "must list at least one node");
    const seen = new Set<string>();
    return value.map((item, index) => {
      const endpoint = this.endpoint(item, `${field}[${index}]`);
      const key = `${endpoint.host}:${endpoint.port}`;
      if (seen.has(key)) throw this.error(`${field}[${index}]`, `${key} is listed twice`);
      seen.add(key);
      return endpoint;
    });
  }

  natMap(value: unknown, field: string): Record<string, Endpoint> {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw this.error(field, "must be a JSON object mapping announced ip:port to {host, port}");
    }
    const natMap: Record<string, Endpoint> = {};
    for (const [from, to] of Object.entries(value)) {
      const port = natMapKeyPort(from);
      if (port === undefined) throw this.error(`${field}["${from}"]`, "key must be ip:port");
      this.port(port, `${field}["${from}"]`);
      natMap[from] = this.endpoint(to, `${field}["${from}"]`);
    }
    return natMap;
  }
}

function join(field: string, key: string): string {
  return field === "" ? key : `${field}.${key}`;
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

const TOP_KEYS = ["schemaVersion", "redisImage", "redisVersion", "passwordRequired", "password", "standalone", "cluster"] as const;
const STANDALONE_KEYS = ["host", "port", "internalHost", "internalPort"] as const;
const CLUSTER_KEYS = ["seeds", "internalSeeds", "natMap", "replicasPerMaster"] as const;

/**
 * Validates a parsed outputs document against the contract. Errors are ConfigErrors naming
 * the field (`cluster.seeds[1].port`) and `source` (e.g. `stack outputs /path/outputs.json`);
 * the password's value never appears in them.
 */
export function parseStackOutputs(value: unknown, source = "stack outputs"): StackOutputs {
  const read = new OutputsReader(source);
  // The version first: a document of another version fails on that, not on a field it lacks.
  const version = (value as Fields | null)?.schemaVersion;
  if (typeof value === "object" && value !== null && !Array.isArray(value) && version !== 1) {
    throw read.error("schemaVersion", `must be 1 (this connector reads version 1), got ${JSON.stringify(version)}`);
  }
  // A non-object fails here; an object's version was checked above.
  const top = read.object(value, "", TOP_KEYS);
  const passwordRequired = read.boolean(top.passwordRequired, "passwordRequired");
  const password = read.string(top.password, "password");
  if (passwordRequired && password === "") {
    throw read.error("password", "is empty but passwordRequired is true (was the document written without --show-secrets?)");
  }
  if (!passwordRequired && password !== "") throw read.error("password", "is set but passwordRequired is false");
  if (password === "[secret]") {
    throw read.error("password", "is Pulumi's [secret] placeholder: export with --show-secrets");
  }
  const standalone = read.object(top.standalone, "standalone", STANDALONE_KEYS);
  const cluster = read.object(top.cluster, "cluster", CLUSTER_KEYS);
  return {
    schemaVersion: 1,
    redisImage: read.nonEmpty(top.redisImage, "redisImage"),
    redisVersion: read.nonEmpty(top.redisVersion, "redisVersion"),
    passwordRequired,
    password,
    standalone: {
      host: read.host(standalone.host, "standalone.host"),
      port: read.port(standalone.port, "standalone.port"),
      internalHost: read.host(standalone.internalHost, "standalone.internalHost"),
      internalPort: read.port(standalone.internalPort, "standalone.internalPort"),
    },
    cluster: {
      seeds: read.endpoints(cluster.seeds, "cluster.seeds"),
      internalSeeds: read.endpoints(cluster.internalSeeds, "cluster.internalSeeds"),
      natMap: read.natMap(cluster.natMap, "cluster.natMap"),
      replicasPerMaster: read.count(cluster.replicasPerMaster, "cluster.replicasPerMaster"),
    },
  };
}

/** Parses and validates an outputs document from JSON text (truncated JSON is named as such). */
export function parseStackOutputsJson(text: string, source = "stack outputs"): StackOutputs {
  return parseStackOutputs(parseJsonText(text, DOCUMENT, source), source);
}
