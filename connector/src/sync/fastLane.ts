/**
 * The calling thread's side of the fast lane (README.md, "Fast lane"): with the sockets the
 * worker lent (socketLending.ts), a command is encoded by ioredis's own Command, written
 * with `fs.writeSync` on the socket's fd, its reply read with `fs.readSync` (the fd is
 * non-blocking: EAGAIN is polled, first by spinning, then in short `Atomics.wait` sleeps,
 * never past the deadline), parsed by the parser ioredis uses (redis-parser, Buffers) and
 * converted by the Command's own `transformReply`. No thread hand-off per call.
 *
 * What needs an event loop or ioredis's state machine goes back to the worker (DELEGATE):
 * connection-state commands, cluster redirections (MOVED/ASK/TRYAGAIN/CLUSTERDOWN), a dead
 * connection, keyless or cross-slot cluster commands, anything the encoder refuses.
 */
import * as fs from "fs";
import * as path from "path";
import { exists as commandExists, hasFlag } from "@ioredis/commands";
import type Command from "ioredis/built/Command";
import Commander from "ioredis/built/utils/Commander";
import { translateCommandError } from "../client/commandErrors";
import type { ConnectorConfig } from "../config/types";
import { CommandTimeoutError, commandTimeoutMessage } from "../errors";
import { METHOD_NAMES } from "./commands";
import { LEND_COUNT, LEND_FD, LEND_POISONED, MAX_LANES, SLOT_COUNT, type BatchEntry } from "./protocol";
import type { BatchReply } from "./types";

// The parser and slot hash ioredis itself loads (its own dependencies), not copies of them.
const IOREDIS_DIR = path.dirname(require.resolve("ioredis"));
interface ParserOptions {
  returnBuffers: boolean;
  stringNumbers: boolean;
  returnReply(reply: unknown): void;
  returnError(error: Error): void;
  returnFatalError(error: Error): void;
}
type RedisParserClass = new (options: ParserOptions) => { execute(data: Buffer): void; reset(): void };
const RedisParser = require(require.resolve("redis-parser", { paths: [IOREDIS_DIR] })) as RedisParserClass;
const calculateSlot = require(require.resolve("cluster-key-slot", { paths: [IOREDIS_DIR] })) as (
  key: string | Buffer,
) => number;

/** Returned when the worker must run the request. */
export const DELEGATE: unique symbol = Symbol("delegate");
export type Delegate = typeof DELEGATE;

/** A pipeline the lane could only partly serve: the replies it has, the rest for the worker. */
export interface PartialBatch {
  done: BatchReply;
  rest: BatchEntry[];
}

/**
 * Commands that change or depend on connection state ioredis tracks (db, auth, client
 * flags, transactions, replica mode) or make the server stop answering in step: always
 * through the worker, so ioredis's state stays true.
 */
const WORKER_ONLY: ReadonlySet<string> = new Set([
  "auth", "select", "quit", "hello", "reset", "client", "monitor", "multi", "exec", "discard",
  "watch", "unwatch", "readonly", "readwrite", "shutdown", "sync", "psync", "replconf",
  "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "asking",
  "cluster", "debug", "replicaof", "slaveof", "failover",
]);

/** Cluster errors ioredis answers by redirecting or retrying: the worker does that. */
const CLUSTER_REDIRECT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;

/** EAGAIN polls before the first sleep (measured: see BENCHMARKS.md, "Sync fast lane"). */
const SPIN_POLLS = 20;
/** Sleep between polls once spinning gave nothing, ms (Atomics.wait takes fractions). */
const POLL_SLEEP_MS = 0.05;
const READ_CHUNK = 64 * 1024;

const TIMEOUT = 1;
const DEAD = 2;

interface Lane {
  fd: number;
  parser: InstanceType<RedisParserClass>;
  /** Replies of commands the caller gave up on (timed out): read and dropped first. */
  stale: number;
  /** A half-written command or a parser failure: never used again, the worker drops it. */
  broken: boolean;
  out: unknown[];
}

interface Outcome {
  replies: unknown[];
  end: 0 | typeof TIMEOUT | typeof DEAD;
}

/** ioredis's `generateFunction`s with a `sendCommand` that hands back the Command. */
function commandEncoder(keyPrefix: string | undefined): Record<string, (...args: unknown[]) => Command> {
  const encoder = Object.create(Commander.prototype) as Record<string, unknown>;
  encoder.options = { keyPrefix, showFriendlyErrorStack: false, enableAutoPipelining: false };
  encoder.sendCommand = (command: Command) => command;
  return encoder as Record<string, (...args: unknown[]) => Command>;
}

export class FastLane {
  private lanes: Lane[] = [];
  private readonly encoder: ReturnType<typeof commandEncoder>;
  private readonly standalone: boolean;
  private readonly commandTimeoutMs: number;
  private readonly readBuffer = Buffer.allocUnsafe(READ_CHUNK);
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));

  /** Keeps only what it needs of `config` (never the password: apps may print the client). */
  constructor(
    config: ConnectorConfig,
    private readonly lendArea: Int32Array,
    private readonly slotTable: Int16Array,
  ) {
    this.encoder = commandEncoder(config.keyPrefix === "" ? undefined : config.keyPrefix);
    this.standalone = config.topology === "standalone";
    this.commandTimeoutMs = config.commandTimeoutMs;
  }

  get active(): boolean {
    return this.lanes.length > 0;
  }

  /** Reads what the worker lent with the answer just received. */
  adopt(): void {
    const count = Math.min(Atomics.load(this.lendArea, LEND_COUNT), MAX_LANES);
    const lanes: Lane[] = [];
    for (let i = 0; i < count; i++) lanes.push(this.newLane(Atomics.load(this.lendArea, LEND_FD + i)));
    this.lanes = lanes;
  }

  /** Before any request to the worker: it takes the sockets back; it drops those left unusable. */
  release(): void {
    const lanes = this.lanes;
    for (let i = 0; i < lanes.length; i++) {
      const unusable = lanes[i].broken || lanes[i].stale > 0;
      Atomics.store(this.lendArea, LEND_POISONED + i, unusable ? 1 : 0);
    }
    this.lanes = [];
  }

  private newLane(fd: number): Lane {
    const lane: Lane = {
      fd,
      stale: 0,
      broken: false,
      out: [],
      parser: undefined as unknown as Lane["parser"],
    };
    lane.parser = new RedisParser({
      returnBuffers: true,
      stringNumbers: false,
      returnReply: (reply) => {
        if (lane.stale > 0) lane.stale--;
        else lane.out.push(reply);
      },
      returnError: (error) => {
        if (lane.stale > 0) lane.stale--;
        else lane.out.push(error);
      },
      returnFatalError: () => {
        lane.broken = true;
      },
    });
    return lane;
  }

  /** One command: its reply (or thrown error), or DELEGATE. */
  command(method: number, args: unknown[], deadline: number): unknown {
    const command = this.encode(method, args);
    if (command === undefined) return DELEGATE;
    const lane = this.route(command);
    if (lane === undefined) return DELEGATE;
    const { replies, end } = this.exchange(lane, [command], deadline);
    if (end === TIMEOUT) throw timeoutError(command, this.commandTimeoutMs);
    if (end === DEAD) return DELEGATE;
    const reply = replies[0];
    if (reply instanceof Error) {
      if (!this.standalone && CLUSTER_REDIRECT.test(reply.message)) return DELEGATE;
      throw this.commandError(reply, command);
    }
    return command.transformReply(reply as Buffer);
  }

  /** A pipeline: its `[error, result]` list, DELEGATE, or a partial result and the rest. */
  pipeline(entries: BatchEntry[], deadline: number): BatchReply | PartialBatch | Delegate {
    if (entries.length === 0) return DELEGATE;
    const commands: Command[] = [];
    for (const [method, args] of entries) {
      const command = this.encode(method, args);
      if (command === undefined) return DELEGATE;
      commands.push(command);
    }
    const lane = this.routeBatch(commands);
    if (lane === undefined) return DELEGATE;
    const { replies, end } = this.exchange(lane, commands, deadline);
    if (end === DEAD) {
      if (replies.length === 0) return DELEGATE;
      return { done: this.results(commands, replies), rest: entries.slice(replies.length) };
    }
    if (!this.standalone && replies.some((r) => r instanceof Error && CLUSTER_REDIRECT.test(r.message))) {
      if (wouldRetry(commands, replies)) return DELEGATE;
    }
    const results = this.results(commands, replies);
    for (let i = replies.length; i < commands.length; i++) {
      results.push([timeoutError(commands[i], this.commandTimeoutMs)] as unknown as BatchReply[number]);
    }
    return results;
  }

  private results(commands: Command[], replies: unknown[]): BatchReply {
    const results: BatchReply = [];
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i];
      if (reply instanceof Error) {
        // ioredis's Pipeline records a failed command as [error] (no second element).
        results.push([this.commandError(reply, commands[i])] as unknown as BatchReply[number]);
        continue;
      }
      try {
        results.push([null, commands[i].transformReply(reply as Buffer)]);
      } catch (error) {
        results.push([error as Error] as unknown as BatchReply[number]);
      }
    }
    return results;
  }

  private commandError(error: Error, command: Command): Error {
    // What ioredis's DataHandler adds, then the connector's translation (commandErrors.ts).
    (error as Error & { command?: unknown }).command = { name: command.name, args: command.args };
    return translateCommandError(error, command.name, this.commandTimeoutMs, this.standalone);
  }

  private encode(method: number, args: unknown[]): Command | undefined {
    const name = METHOD_NAMES[method];
    if (method < 2 && typeof args[0] !== "string") return undefined;
    let command: Command;
    try {
      command = this.encoder[name](...args);
    } catch {
      return undefined; // the worker raises the same error ioredis does
    }
    if (WORKER_ONLY.has(command.name.toLowerCase())) return undefined;
    return command;
  }

  private route(command: Command): Lane | undefined {
    if (this.standalone) return usable(this.lanes[0]);
    const slot = command.getSlot();
    if (slot === null) return undefined;
    return usable(this.lanes[this.slotTable[slot]]);
  }

  /**
   * ioredis sends a cluster pipeline to the owner of its keys' one slot (keyless commands
   * such as WAIT go along); no key at all, or keys in two slots: the worker decides.
   */
  private routeBatch(commands: Command[]): Lane | undefined {
    if (this.standalone) return usable(this.lanes[0]);
    let slot: number | null = null;
    for (const command of commands) {
      for (const key of command.getKeys()) {
        const s = calculateSlot(key);
        if (slot === null) slot = s;
        else if (s !== slot) return undefined;
      }
    }
    if (slot === null || slot >= SLOT_COUNT) return undefined;
    return usable(this.lanes[this.slotTable[slot]]);
  }

  /**
   * Writes the commands and reads their replies (after dropping stale ones), all by the
   * deadline. A timeout leaves the unread replies stale (dropped by the next exchange), or
   * the lane broken if a command went out only in part.
   */
  private exchange(lane: Lane, commands: Command[], deadline: number): Outcome {
    lane.out = [];
    const bytes = toBytes(commands);
    const limit = Error.stackTraceLimit;
    // EAGAIN arrives as a thrown Error: no stack to capture makes each poll cheap.
    Error.stackTraceLimit = 0;
    try {
      const written = this.writeAll(lane.fd, bytes, deadline);
      if (written !== bytes.length) {
        if (written > 0) lane.broken = true;
        return { replies: [], end: written === -DEAD || lane.broken ? DEAD : TIMEOUT };
      }
      while (lane.out.length < commands.length) {
        const n = this.readSome(lane.fd, deadline);
        if (n === -TIMEOUT) {
          lane.stale += commands.length - lane.out.length;
          return { replies: lane.out, end: TIMEOUT };
        }
        if (n === -DEAD) {
          lane.broken = true;
          return { replies: lane.out, end: DEAD };
        }
        // The parser keeps slices of what it is given (Buffer replies): give it its own copy.
        lane.parser.execute(Buffer.from(this.readBuffer.subarray(0, n)));
        if (lane.broken) return { replies: lane.out, end: DEAD };
      }
      return { replies: lane.out, end: 0 };
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /** Bytes written (all of them), a partial count at the deadline, or -DEAD. */
  private writeAll(fd: number, bytes: Buffer, deadline: number): number {
    let offset = 0;
    let polls = 0;
    while (offset < bytes.length) {
      try {
        offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
        continue;
      } catch (error) {
        if (!isAgain(error)) return offset > 0 ? offset : -DEAD;
      }
      if (!this.pause(++polls, deadline)) return offset;
    }
    return offset;
  }

  /** Bytes read into readBuffer, or -TIMEOUT / -DEAD (EOF, reset). */
  private readSome(fd: number, deadline: number): number {
    let polls = 0;
    for (;;) {
      try {
        const n = fs.readSync(fd, this.readBuffer, 0, READ_CHUNK, null);
        return n > 0 ? n : -DEAD;
      } catch (error) {
        if (!isAgain(error)) return -DEAD;
      }
      if (!this.pause(++polls, deadline)) return -TIMEOUT;
    }
  }

  /** Between two EAGAIN polls: spin a little, then sleep briefly; false once the deadline passed. */
  private pause(polls: number, deadline: number): boolean {
    if (polls < SPIN_POLLS) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(this.sleeper, 0, 0, Math.min(POLL_SLEEP_MS, left));
    return true;
  }
}

function usable(lane: Lane | undefined): Lane | undefined {
  return lane === undefined || lane.broken ? undefined : lane;
}

function isAgain(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "EAGAIN" || code === "EWOULDBLOCK";
}

function toBytes(commands: Command[]): Buffer {
  return commands.length === 1 ? commandBytes(commands[0]) : Buffer.concat(commands.map(commandBytes));
}

/** A command as ioredis writes it to the socket. */
function commandBytes(command: Command): Buffer {
  const w = command.toWritable(undefined as never);
  return typeof w === "string" ? Buffer.from(w) : w;
}

function timeoutError(command: Command, commandTimeoutMs: number): CommandTimeoutError {
  const error = new CommandTimeoutError(commandTimeoutMessage(command.name, commandTimeoutMs));
  return Object.assign(error, { command: { name: command.name } });
}

/**
 * ioredis's own rule (Pipeline.fillResult): a cluster pipeline is sent again, after the
 * redirection, when every failed command failed alike and every other one is read-only.
 */
function wouldRetry(commands: Command[], replies: unknown[]): boolean {
  let common: Error | undefined;
  for (let i = 0; i < replies.length; i++) {
    const reply = replies[i];
    if (reply instanceof Error) {
      if (common === undefined) common = reply;
      else if (common.name !== reply.name || common.message !== reply.message) return false;
    } else {
      const name = commands[i].name;
      if (!(commandExists(name, { caseInsensitive: true }) && hasFlag(name, "readonly", { nameCaseInsensitive: true }))) {
        return false;
      }
    }
  }
  return common !== undefined && replies.length === commands.length;
}
