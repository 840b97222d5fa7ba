/**
 * Keeps the password out of everything an app may log about a client: the client object
 * itself (`util.inspect`, `%o`, `JSON.stringify`), every cluster node, and connection errors
 * (ioredis puts the AUTH arguments into `error.command.args`, and a cluster error keeps the
 * node's error in `lastNodeError`; JSON loggers serialize all of it).
 */
import { inspect } from "node:util";
import Redis, { Cluster } from "ioredis";
import { REDACTED } from "../config/redact";

/** Commands whose arguments are credentials. */
const CREDENTIAL_COMMANDS = new Set(["auth", "hello", "migrate"]);

/** How deep into an error's properties secrets are looked for (ioredis nests 2-3 levels). */
const MAX_DEPTH = 8;

function scrubString(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) if (result.includes(secret)) result = result.split(secret).join(REDACTED);
  return result;
}

function isPlainData(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === null || proto === Object.prototype || proto === Array.prototype || value instanceof Error;
}

/**
 * Replaces, in place, every occurrence of a secret in an error's message, stack and
 * properties (plain objects, arrays, nested errors), and the arguments of credential
 * commands (AUTH, HELLO) whatever they are. Returns the same error. Objects that are not
 * plain data (sockets, clients) are not entered.
 */
export function scrubError<E extends Error>(error: E, secrets: readonly string[]): E {
  const effective = secrets.filter((s) => s !== "");
  const seen = new Set<object>();
  const visit = (value: object, depth: number): void => {
    if (seen.has(value) || depth > MAX_DEPTH || !isPlainData(value)) return;
    seen.add(value);
    const record = value as Record<string, unknown>;
    if (typeof record.name === "string" && CREDENTIAL_COMMANDS.has(record.name.toLowerCase()) && Array.isArray(record.args)) {
      record.args = record.args.map(() => REDACTED);
    }
    for (const key of Object.getOwnPropertyNames(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor === undefined || !("value" in descriptor)) continue;
      const child: unknown = descriptor.value;
      let replacement: unknown = child;
      if (typeof child === "string") replacement = scrubString(child, effective);
      else if (Buffer.isBuffer(child) && effective.some((s) => child.includes(s))) replacement = Buffer.from(REDACTED);
      else if (typeof child === "object" && child !== null) visit(child, depth + 1);
      if (replacement !== child) {
        if (descriptor.writable === true) record[key] = replacement;
        else if (descriptor.configurable === true) Object.defineProperty(value, key, { ...descriptor, value: replacement });
      }
    }
  };
  visit(error, 0);
  return error;
}

/** What a connector client shows when printed or serialized: its kind and status, no options. */
function summary(client: Redis | Cluster): { client: string; status: string } {
  return { client: client instanceof Cluster ? "Cluster" : "Redis", status: client.status };
}

function hideOne(client: Redis | Cluster): void {
  if (Object.prototype.hasOwnProperty.call(client, inspect.custom)) return;
  Object.defineProperties(client, {
    [inspect.custom]: { enumerable: false, value: () => `${summary(client).client} { status: ${JSON.stringify(client.status)} }` },
    toJSON: { enumerable: false, value: () => summary(client) },
  });
}

/**
 * Makes `util.inspect` (any depth, `%o`) and `JSON.stringify` of the client, and of every
 * node a Cluster creates (`cluster.nodes()`), print a summary without the options (they
 * hold the password).
 */
export function hideClientSecrets<T extends Redis | Cluster>(client: T): T {
  hideOne(client);
  if (client instanceof Cluster) {
    for (const node of client.nodes("all")) hideOne(node);
    client.on("+node", (node: Redis) => hideOne(node));
  }
  return client;
}
