/**
 * Value formats of the connector's settings, registered with convict (validate + coerce).
 * Coercion turns env strings into typed values; a string that cannot be read becomes an
 * `UnreadableValue`, so validation can say exactly why (convict's own `int`/`boolean`
 * coercions would silently accept `12abc` or `yes`).
 */
import convict from "convict";
import { addressKey, checkEndpoint, checkHost, checkPort, formatEndpoint, parseEndpoint, parseNatMapKey, type Endpoint } from "../endpoint";
import { didYouMean } from "./suggest";

/** A raw string that a format could not read; validation reports `reason`. Never holds a secret in `reason`. */
export class UnreadableValue {
  constructor(readonly reason: string) {}
}

function fail(reason: string): never {
  throw new Error(reason);
}

function checkReadable(value: unknown): void {
  if (value instanceof UnreadableValue) fail(value.reason);
}

function readInteger(raw: string): number | UnreadableValue {
  const text = raw.trim();
  return /^-?\d+$/.test(text) ? Number(text) : new UnreadableValue(`"${raw}" is not an integer`);
}

/** `parseEndpoint`, its reason kept for validation to report. */
function readEndpoint(text: string): Endpoint | UnreadableValue {
  try {
    return parseEndpoint(text);
  } catch (error) {
    return new UnreadableValue((error as Error).message);
  }
}

function readNatMapKey(text: string): Endpoint | UnreadableValue {
  try {
    return parseNatMapKey(text);
  } catch (error) {
    return new UnreadableValue((error as Error).message);
  }
}

function parseJson(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return new UnreadableValue(`${what} is not valid JSON`);
  }
}

/** Coerces `host:port,host:port` (or a JSON array of {host,port}) into endpoints. */
export function coerceEndpointList(raw: string): Endpoint[] | UnreadableValue | unknown {
  const text = raw.trim();
  if (text === "") return [];
  if (text.startsWith("[") && text.endsWith("]") && text.includes("{")) return parseJson(text, "node list");
  const endpoints: Endpoint[] = [];
  for (const [index, part] of text.split(",").entries()) {
    const endpoint = readEndpoint(part);
    if (endpoint instanceof UnreadableValue) {
      return new UnreadableValue(`entry ${index + 1} ${endpoint.reason}${/\s/.test(part.trim()) ? "" : " (expected host:port,host:port)"}`);
    }
    endpoints.push(endpoint);
  }
  return endpoints;
}

export function checkEndpointList(value: unknown): void {
  checkReadable(value);
  if (!Array.isArray(value)) fail("must be a list of host:port");
  const seen = new Set<string>();
  value.forEach((endpoint, index) => {
    checkEndpoint(endpoint, `entry ${index + 1}`);
    const key = formatEndpoint(endpoint);
    if (seen.has(key)) fail(`${key} is listed twice`);
    seen.add(key);
  });
}

/** Coerces `ip:port=host:port,...` (or a JSON object) into a natMap. */
export function coerceNatMap(raw: string): unknown {
  const text = raw.trim();
  if (text === "") return {};
  if (text.startsWith("{")) return parseJson(text, "natMap");
  const natMap: Record<string, Endpoint> = {};
  for (const [index, part] of text.split(",").entries()) {
    const pieces = part.split("=");
    if (pieces.length !== 2) {
      return new UnreadableValue(`entry ${index + 1} "${part}" is not announced-ip:port=host:port`);
    }
    const from = readNatMapKey(pieces[0]);
    const to = readEndpoint(pieces[1]);
    if (from instanceof UnreadableValue) return new UnreadableValue(`entry ${index + 1}: ${from.reason}`);
    if (to instanceof UnreadableValue) return new UnreadableValue(`entry ${index + 1}: ${to.reason}`);
    const key = addressKey(from);
    if (key in natMap) return new UnreadableValue(`entry ${index + 1}: ${key} is mapped twice`);
    natMap[key] = to;
  }
  return natMap;
}

export function checkNatMap(value: unknown): void {
  checkReadable(value);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("must map announced ip:port to host:port (ip:port=host:port,... or a JSON object)");
  }
  const seen = new Set<string>();
  for (const [from, to] of Object.entries(value)) {
    const parsed = readNatMapKey(from);
    if (parsed instanceof UnreadableValue) fail(`key ${parsed.reason}`);
    checkPort(parsed.port, `key "${from}" port`);
    checkEndpoint(to, `target of ${from}`);
    // `[::1]:7000` and `::1:7000` are one key to ioredis.
    const key = addressKey(parsed);
    if (seen.has(key)) fail(`${from} is mapped twice`);
    seen.add(key);
  }
}

function coerceInteger(raw: string): unknown {
  return readInteger(raw);
}

/** A convict format whose name and validator are always present. */
export interface SettingFormat {
  name: string;
  validate(value: unknown): void;
  coerce?(raw: string): unknown;
}

function integerFormat(name: string, min: number, max: number, what: string): SettingFormat {
  return {
    name,
    coerce: coerceInteger,
    validate(value: unknown) {
      checkReadable(value);
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        fail(`must be ${what}, got ${JSON.stringify(value)}`);
      }
    },
  };
}

function enumFormat(name: string, values: readonly string[]): SettingFormat {
  return {
    name,
    validate(value: unknown) {
      if (typeof value !== "string" || !values.includes(value)) {
        fail(`must be one of ${values.join(", ")}, got ${JSON.stringify(value)}${typeof value === "string" ? didYouMean(value, values) : ""}`);
      }
    },
  };
}

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off"];

export const FORMATS = {
  topology: enumFormat("redis-topology", ["standalone", "cluster"]),
  form: enumFormat("redis-form", ["async", "sync"]),
  scaleReads: enumFormat("redis-scale-reads", ["master", "slave", "all"]),
  port: integerFormat("redis-port", 1, 65535, "an integer between 1 and 65535"),
  db: integerFormat("redis-db", 0, 1_000_000, "a non-negative integer (database index)"),
  count: integerFormat("redis-count", 0, 1_000_000, "a non-negative integer"),
  millis: integerFormat("redis-millis", 1, 3_600_000, "a whole number of milliseconds between 1 and 3600000"),
  host: {
    name: "redis-host",
    // `[::1]` as in a URL: the brackets only delimit the IPv6 address.
    coerce: (raw: string): string => /^\s*\[[^\]]*:[^\]]*\]\s*$/.test(raw) ? raw.trim().slice(1, -1) : raw,
    validate(value: unknown) {
      checkHost(value);
    },
  },
  endpoints: { name: "redis-endpoints", coerce: coerceEndpointList, validate: checkEndpointList },
  natMap: { name: "redis-nat-map", coerce: coerceNatMap, validate: checkNatMap },
  boolean: {
    name: "redis-boolean",
    coerce(raw: string): unknown {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.includes(word)) return true;
      if (FALSE_WORDS.includes(word)) return false;
      return new UnreadableValue(`"${raw}" is not a boolean (true/false, 1/0, yes/no, on/off)`);
    },
    validate(value: unknown) {
      checkReadable(value);
      if (typeof value !== "boolean") fail(`must be true or false, got ${JSON.stringify(value)}`);
    },
  },
  text: {
    name: "redis-text",
    validate(value: unknown) {
      if (typeof value !== "string") fail(`must be a string, got ${typeof value}`);
    },
  },
  username: {
    name: "redis-username",
    validate(value: unknown) {
      if (typeof value !== "string") fail(`must be a string, got ${typeof value}`);
      if (/[\s\u0000-\u001f]/.test(value)) fail("must not contain spaces or control characters");
    },
  },
  // Messages never include the value: it is a secret.
  password: {
    name: "redis-password",
    validate(value: unknown) {
      if (typeof value !== "string") fail(`must be a string, got ${typeof value}`);
      if (/[\u0000\r\n]/.test(value)) fail("must not contain line breaks or NUL (a redis.conf line cannot hold them)");
      if (Buffer.byteLength(value) > 512) fail("must be at most 512 bytes (Redis's limit)");
    },
  },
} satisfies Record<string, SettingFormat>;

let registered = false;
/** Registers the formats with convict once (convict's registry is global). */
export function registerFormats(): void {
  if (registered) return;
  for (const format of Object.values(FORMATS)) convict.addFormat(format);
  registered = true;
}
