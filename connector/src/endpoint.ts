/**
 * Addresses: checking, reading and writing `host:port`, and applying a natMap. A leaf: the
 * outputs validator, the settings' formats and the clients all use it, and it uses none of them.
 * Checks and parsers throw an Error whose message is the reason (no value here is a secret).
 */
import { isIP } from "node:net";
import type { Endpoint } from "./generated/outputsContract";

export type { Endpoint };

const HOST_PATTERN = /^[^\s,=/\\[\]]+$/;

/** Checks a host name or IP address as the connector accepts it (no scheme, no spaces, no list separators). */
export function checkHost(host: unknown, what = "host"): void {
  if (typeof host !== "string" || host === "") throw new Error(`${what} must be a non-empty string`);
  if (!HOST_PATTERN.test(host) || host.length > 253) {
    throw new Error(`${what} "${host}" is not a host name or IP address (no scheme, spaces, ',' '=' or '/'; brackets only around a whole IPv6 address: [::1])`);
  }
}

/** Checks a TCP port: an integer in 1..65535. */
export function checkPort(port: unknown, what = "port"): void {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${what} must be an integer between 1 and 65535, got ${JSON.stringify(port)}`);
  }
}

/** Checks `{host, port}` and nothing else. */
export function checkEndpoint(value: unknown, what: string): asserts value is Endpoint {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${what} must be {host, port}`);
  const extra = Object.keys(value).filter((k) => k !== "host" && k !== "port");
  if (extra.length > 0) throw new Error(`${what} has unknown key(s) ${extra.join(", ")}`);
  const { host, port } = value as Record<string, unknown>;
  checkHost(host, `${what} host`);
  checkPort(port, `${what} port`);
}

/** Reads `host:port` or `[ipv6]:port` (the port's range is not checked here). */
export function parseEndpoint(text: string): Endpoint {
  const trimmed = text.trim();
  if (/\s/.test(trimmed)) {
    throw new Error(`${JSON.stringify(trimmed)} holds spaces or line breaks: separate entries with commas (host:port,host:port), nothing else`);
  }
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(trimmed) ?? /^([^:[\]]+):(\d+)$/.exec(trimmed);
  if (match === null) {
    const ipv6 = !trimmed.includes("[") && (trimmed.match(/:/g) ?? []).length >= 2;
    const lastColon = trimmed.lastIndexOf(":");
    const hint = ipv6 ? `; write an IPv6 address in brackets: [${trimmed.slice(0, lastColon)}]:${trimmed.slice(lastColon + 1)}` : "";
    throw new Error(`"${text}" is not host:port${hint}`);
  }
  return { host: match[1], port: Number(match[2]) };
}

/** `host:port` for an endpoint, bracketing IPv6 addresses. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.host.includes(":") ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/**
 * An address as a natMap keys it and as ioredis keys its slot map: `host:port`, never
 * bracketed (ioredis joins the two with a colon).
 */
export function addressKey(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/**
 * A natMap key's endpoint: `ip:port` as ioredis keys it (IPv6 unbracketed: `::1:7000`, the
 * form `addressKey` writes), or `[::1]:7000` as a person writes it. Throws like parseEndpoint.
 */
export function parseNatMapKey(key: string): Endpoint {
  const plain = /^([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*):(\d+)$/.exec(key.trim());
  if (plain !== null && isIP(plain[1]) === 6) return { host: plain[1], port: Number(plain[2]) };
  return parseEndpoint(key);
}

/** A natMap with every key as ioredis looks it up (`addressKey`); keys must already be readable. */
export function canonicalNatMap(natMap: Readonly<Record<string, Endpoint>>): Record<string, Endpoint> {
  return Object.fromEntries(Object.entries(natMap).map(([from, to]) => [addressKey(parseNatMapKey(from)), to]));
}

/** The port of a natMap key (`ip:port`, as a node announces itself), or undefined if it is not of that form. */
export function natMapKeyPort(key: string): number | undefined {
  const match = /^(.+):(\d+)$/.exec(key);
  return match === null ? undefined : Number(match[2]);
}

/** Host-side `host:port` for an address a node announced (the natMap applied), as ioredis keys its slot map. */
export type AnnouncedToHostKey = (announced: string) => string;

/** `host:port` as ioredis keys its slot map, for an address a node announced, given the natMap. */
export function natMappedHostKey(natMap: Readonly<Record<string, Endpoint>>): AnnouncedToHostKey {
  return (announced) => {
    const mapped = natMap[announced];
    return mapped ? addressKey(mapped) : announced;
  };
}
