/**
 * Rebuilds errors that crossed the thread boundary as data (codec.ts) into the same classes
 * ioredis and the connector throw, so `instanceof` works on the calling thread.
 */
import { ReplyError } from "ioredis";
import { CommandTimeoutError, IOREDIS_TIMEOUT_MESSAGE, commandTimeoutMessage } from "../errors";
import type { EncodedError } from "./codec";
import { SyncClientClosedError, SyncConnectError, WatchLostError } from "./syncErrors";

// redis-errors ships no types; these are the classes ioredis's errors derive from.
const redisErrors = require("redis-errors") as Record<
  "RedisError" | "ParserError" | "AbortError" | "InterruptError",
  new (message?: string) => Error
>;

type ErrorClass = new (message?: string) => Error;

/**
 * Error classes ioredis keeps in its own files (not exported from its entry point): loaded
 * here if they are where ioredis ~5.11 has them; otherwise such errors keep their name and
 * message on a plain Error (test/connector/syncInternals.test.ts pins the paths).
 */
export const IOREDIS_ERROR_FILES = {
  MaxRetriesPerRequestError: "ioredis/built/errors/MaxRetriesPerRequestError",
  ClusterAllFailedError: "ioredis/built/errors/ClusterAllFailedError",
} as const;

function ioredisErrorClass(name: keyof typeof IOREDIS_ERROR_FILES): [string, ErrorClass][] {
  try {
    const loaded = require(IOREDIS_ERROR_FILES[name]) as { default?: unknown };
    return typeof loaded.default === "function" ? [[name, loaded.default as ErrorClass]] : [];
  } catch {
    return [];
  }
}

const ERROR_CLASSES: ReadonlyMap<string, ErrorClass> = new Map<string, ErrorClass>([
  ["Error", Error],
  ["TypeError", TypeError],
  ["RangeError", RangeError],
  ["SyntaxError", SyntaxError],
  ["ReplyError", ReplyError as new (message?: string) => Error],
  ["RedisError", redisErrors.RedisError],
  ["ParserError", redisErrors.ParserError],
  ["AbortError", redisErrors.AbortError],
  ["InterruptError", redisErrors.InterruptError],
  ...ioredisErrorClass("MaxRetriesPerRequestError"),
  ...ioredisErrorClass("ClusterAllFailedError"),
  ["CommandTimeoutError", CommandTimeoutError],
  ["SyncConnectError", SyncConnectError],
  ["SyncClientClosedError", SyncClientClosedError],
  ["WatchLostError", WatchLostError],
]);

/**
 * Rebuilds an error from the worker as the same class (a real Error object whose
 * prototype is the class's, made without running constructors that want other
 * arguments), with its name, message and ioredis's properties such as `command`.
 * ioredis's bare "Command timed out" becomes a CommandTimeoutError, the same class
 * the facade throws when its own bound expires.
 */
export function makeErrorReviver(commandTimeoutMs: number): (encoded: EncodedError) => Error {
  return (encoded) => {
    if (encoded.className === "Error" && encoded.message === IOREDIS_TIMEOUT_MESSAGE) {
      return Object.assign(timeoutFromProps(encoded.props, commandTimeoutMs), encoded.props);
    }
    return reviveError(encoded);
  };
}

function reviveError(encoded: EncodedError): Error {
  const cls = ERROR_CLASSES.get(encoded.className);
  const err = Reflect.construct(Error, [encoded.message], cls ?? Error) as Error;
  if (cls === undefined || err.name !== encoded.name) {
    Object.defineProperty(err, "name", { value: encoded.name, configurable: true, writable: true });
  }
  return Object.assign(err, encoded.props);
}

function timeoutFromProps(props: Record<string, unknown>, commandTimeoutMs: number): CommandTimeoutError {
  const command = props.command as { name?: unknown } | undefined;
  return new CommandTimeoutError(commandTimeoutMessage(typeof command?.name === "string" ? command.name : undefined, commandTimeoutMs));
}
