/**
 * The parts the fast lane borrows, loaded lazily and checked, in one place: ioredis's public
 * `Command` (argument handling, key prefix, encoding, reply transformation, slot) and the
 * RESP parser ioredis itself uses (`redis-parser`, a dependency of this package at the same
 * version ioredis pins). If an ioredis or redis-parser release changes their shape, the lane
 * is switched off with one warning and every call takes the worker path: importing the
 * connector never throws because of them. test/connector/syncInternals.test.ts pins them.
 */
import { Command } from "ioredis";

/** What the lane uses of ioredis's `Command`. */
export interface LaneCommand {
  readonly name: string;
  readonly args: unknown[];
  getSlot(): number | null;
  getKeys(): Array<string | Buffer>;
  toWritable(socket: object): string | Buffer;
  transformReply(reply: Buffer | Buffer[]): unknown;
}

export type CommandOptions = { keyPrefix?: string; replyEncoding: "utf8" | null };
export type CommandConstructor = new (name: string, args: unknown[], options: CommandOptions) => LaneCommand;

export interface ParserOptions {
  returnBuffers: boolean;
  stringNumbers: boolean;
  returnReply(reply: unknown): void;
  returnError(error: Error): void;
  returnFatalError(error: Error): void;
}
export interface ReplyParser {
  execute(data: Buffer): void;
  reset(): void;
}
export type ParserConstructor = new (options: ParserOptions) => ReplyParser;

export interface LaneParts {
  Command: CommandConstructor;
  Parser: ParserConstructor;
}

/** Methods of ioredis's Command the lane calls (the test lists them too). */
export const COMMAND_METHODS = ["getSlot", "getKeys", "toWritable", "transformReply"] as const;

let loaded: LaneParts | null | undefined;

/**
 * The lane's parts, or null (with a one-time process warning) when one of them is missing
 * or has another shape than the one the lane was tested with.
 */
export function laneParts(): LaneParts | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = checkedParts();
  } catch (error) {
    loaded = null;
    process.emitWarning(
      `The sync Redis client's fast lane is off (every call takes the worker thread): ${(error as Error).message}`,
      { code: "REDIS_CONNECTOR_FAST_LANE_OFF" },
    );
  }
  return loaded;
}

function checkedParts(): LaneParts {
  const CommandClass = Command as unknown as CommandConstructor | undefined;
  if (typeof CommandClass !== "function") throw new Error("ioredis no longer exports Command");
  for (const method of COMMAND_METHODS) {
    if (typeof (CommandClass.prototype as unknown as Record<string, unknown>)[method] !== "function") {
      throw new Error(`ioredis's Command has no ${method}()`);
    }
  }
  const Parser = require("redis-parser") as ParserConstructor | undefined;
  if (typeof Parser !== "function" || typeof Parser.prototype.execute !== "function" || typeof Parser.prototype.reset !== "function") {
    throw new Error("redis-parser has an unexpected shape");
  }
  // A smoke test of the whole path: GET encodes as ioredis writes it and its reply decodes.
  const probe = new CommandClass("get", ["k"], { keyPrefix: "p:", replyEncoding: "utf8" });
  const written = probe.toWritable({});
  const text = typeof written === "string" ? written : written.toString();
  if (text !== "*2\r\n$3\r\nget\r\n$3\r\np:k\r\n" || probe.getKeys()[0] !== "p:k" || typeof probe.getSlot() !== "number") {
    throw new Error("ioredis's Command encodes GET differently than the lane expects");
  }
  let reply: unknown;
  new Parser({
    returnBuffers: true,
    stringNumbers: false,
    returnReply: (r) => {
      reply = r;
    },
    returnError: () => undefined,
    returnFatalError: () => undefined,
  }).execute(Buffer.from("$2\r\nok\r\n"));
  if (!Buffer.isBuffer(reply) || probe.transformReply(reply) !== "ok") {
    throw new Error("redis-parser / Command.transformReply do not decode replies as the lane expects");
  }
  return { Command: CommandClass, Parser };
}

/** For tests: forget what was loaded. */
export function resetLanePartsForTest(): void {
  loaded = undefined;
}
