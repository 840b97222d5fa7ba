/**
 * The sync facade's method names, derived from ioredis's own command list
 * (`@ioredis/commands`, the list ioredis builds its Commander from), never typed out.
 * Both threads load this module, so a method travels as its index in METHOD_NAMES.
 */
import { list as redisCommandList } from "@ioredis/commands";

/** Commands that switch the connection into a push mode a blocking call cannot serve. */
export const REFUSED_COMMANDS: ReadonlySet<string> = new Set([
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "monitor",
]);

/**
 * Handled by the facade itself rather than sent as a command: MULTI/EXEC/QUIT are
 * client-side verbs here (`multi()`, `batch.exec()`, `quit()`).
 */
const FACADE_VERBS: ReadonlySet<string> = new Set(["multi", "exec", "quit"]);

/** Redis command names (lower case) exposed as sync methods, as ioredis exposes them. */
export const COMMAND_NAMES: readonly string[] = redisCommandList.filter(
  (name) => !REFUSED_COMMANDS.has(name) && !FACADE_VERBS.has(name),
);

/**
 * A method as it travels between the threads and in batches: its index in METHOD_NAMES
 * (both threads derive the same list from the same package).
 */
export type MethodIndex = number;

/** `call(name, ...args)`: the command's name is its first argument. */
export const METHOD_CALL: MethodIndex = 0;
/** `callBuffer(name, ...args)`: as `call`, replies as Buffers. */
export const METHOD_CALL_BUFFER: MethodIndex = 1;

/** ioredis method names the worker may call: `call`/`callBuffer`, then every command and its `…Buffer` twin. */
export const METHOD_NAMES: readonly string[] = [
  "call",
  "callBuffer",
  ...COMMAND_NAMES.flatMap((name) => [name, `${name}Buffer`]),
];

export const METHOD_INDEX: ReadonlyMap<string, MethodIndex> = new Map(METHOD_NAMES.map((m, i) => [m, i]));

/** The error for a refused command, shared by typed methods and `call()`. */
export function subscriberModeRefused(command: string): Error {
  return new TypeError(
    `The sync Redis client does not support ${command.toUpperCase()}: subscriber/monitor mode ` +
      "pushes messages with no request to block on. Use the async client (form: async) for pub/sub.",
  );
}

/** `call` / `callBuffer`: the command name is their first argument. */
export function isCallMethod(method: MethodIndex): boolean {
  return method === METHOD_CALL || method === METHOD_CALL_BUFFER;
}

/**
 * A command name given to `call()` or a batch as bytes is read as text, so it is refused
 * or routed like the same name as a string (ioredis itself fails on it with a TypeError).
 */
export function commandNameText(command: unknown): unknown {
  return Buffer.isBuffer(command) || command instanceof Uint8Array ? Buffer.from(command).toString("utf8") : command;
}

/**
 * Commands a blocking client must not send: subscriber/monitor mode, and `CLIENT REPLY
 * OFF|SKIP`, after which replies no longer match requests (every later call would get
 * another call's reply). Throws the refusal, or returns.
 */
export function refuseUnservable(command: unknown, args: readonly unknown[]): void {
  const name = commandNameText(command);
  if (typeof name !== "string") return;
  const lower = name.toLowerCase();
  if (REFUSED_COMMANDS.has(lower)) throw subscriberModeRefused(name);
  if (lower === "client" && args.length > 0 && String(commandNameText(args[0])).toLowerCase() === "reply") {
    throw clientReplyRefused();
  }
}

export function clientReplyRefused(): Error {
  return new TypeError(
    "The sync Redis client does not support CLIENT REPLY: with replies switched off or skipped, " +
      "later calls would receive other calls' replies. Send commands whose replies you do not need as usual.",
  );
}
