/**
 * The calling thread's side of the fast lane (README.md, "Fast lane"): with the sockets the
 * worker lent (socketLending.ts), a command is encoded by ioredis's own Command, written
 * with `fs.writeSync` on the socket's fd, its reply read with `fs.readSync` (the fd is
 * non-blocking: EAGAIN is polled, first by spinning, then in short `Atomics.wait` sleeps,
 * never past the deadline), parsed by the parser ioredis uses and converted by the Command's
 * own `transformReply`. No thread hand-off per call.
 *
 * The lane is an optimisation of the worker path, never another contract. What needs an
 * event loop or ioredis's state machine goes back to the worker (DELEGATE), but only while
 * no byte of the call has been written: once bytes may have reached the server, the call
 * ends on the lane, and what did not get its reply fails with an error that says it may or
 * may not have run (AbortError on a lost connection, CommandTimeoutError at the deadline),
 * as ioredis itself answers. Nothing is ever sent twice.
 */
import * as fs from "fs";
import { exists as commandExists, hasFlag } from "@ioredis/commands";
import { ReplyError } from "ioredis";
import { abortedByConnectionClose, translateCommandError } from "../client/commandErrors";
import type { ConnectorConfig } from "../config/types";
import { CommandTimeoutError, commandTimeoutMessage } from "../errors";
import { METHOD_NAMES, isCallMethod, type MethodIndex } from "./commands";
import { laneParts, type CommandConstructor, type LaneCommand, type LaneParts, type ReplyParser } from "./laneParts";
import {
  CTL_SLEEP,
  LEND_COUNT,
  LEND_FD,
  LEND_MAP_STALE,
  LEND_POISONED,
  LEND_REFRESH_WANTED,
  MAX_LANES,
  SLOT_COUNT,
  type BatchEntry,
} from "./protocol";
import type { BatchReply } from "./types";

/** Returned when the worker must run the request (nothing of it was written). */
export const DELEGATE: unique symbol = Symbol("delegate");
export type Delegate = typeof DELEGATE;

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

/** Cluster errors ioredis answers by redirecting or retrying (the command did not run): the worker does that. */
const CLUSTER_REDIRECT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;

/** EAGAIN polls before the first sleep (measured: see BENCHMARKS.md, "Sync fast lane"). */
const SPIN_POLLS = 20;
/** Sleep between polls once spinning gave nothing, ms (Atomics.wait takes fractions). */
const POLL_SLEEP_MS = 0.05;
const READ_CHUNK = 64 * 1024;
/**
 * A lane idle for longer than this is looked at before a call writes to it (a close that
 * came meanwhile sends the call to the worker). Back-to-back calls skip the look: within this
 * window a close is found only after the write, and the call fails as possibly run (AbortError),
 * as it does on the worker path when ioredis writes before its event loop has seen the close.
 */
const PROBE_AFTER_IDLE_MS = 1;
/** Commands encoded and written at a time, the deadline checked between (huge pipelines). */
const WRITE_CHUNK = 1024;

// The slot hash ioredis uses (a dependency of this package at the version ioredis pins).
const calculateSlot = require("cluster-key-slot") as (key: string | Buffer) => number;


/**
 * How one exchange on a lent socket ended.
 * - `answered`: every reply is in.
 * - `not-sent`: not one byte of this call was written (the connection was found closed, or
 *   the write failed at once): the worker may run it.
 * - `timed-out`: the deadline passed with replies missing; the commands without a reply may or
 *   may not have run.
 * - `lost`: the connection closed or reset after bytes went out; the same uncertainty.
 * - `gone`: the fd no longer names the lent socket (the worker thread died and closed it).
 */
type Exchange =
  | { end: "answered"; replies: unknown[] }
  | { end: "timed-out"; replies: unknown[] }
  | { end: "lost"; replies: unknown[] }
  | { end: "not-sent" }
  | { end: "gone" };

/**
 * One non-blocking read on a lent fd: how many bytes are now in the lane's read buffer, or why
 * none are: `would-block` (nothing there yet), `closed` (EOF, reset, or any other failure).
 * (A count or a word, not an object: this runs once per poll, allocation-free.)
 */
type ReadOnce = number | "would-block" | "closed";
/** A read that waits (polling) until bytes come, the connection closes, or the deadline passes. */
type ReadUntil = number | "closed" | "past-deadline";

interface Lane {
  fd: number;
  /** The socket's inode when the worker lent it: the fd must still name it. */
  socketId: number;
  parser: ReplyParser;
  /** Replies of commands the caller gave up on (timed out): read and dropped first. */
  stale: number;
  /** Not to be used again until the worker lends afresh. */
  unusable: boolean;
  /** The worker must close this connection (a half-written command or unread replies on it). */
  poisoned: boolean;
  out: unknown[];
  /** When its last exchange was answered (performance.now()); -Infinity: not yet used. */
  lastUsed: number;
}

export class FastLane {
  private lanes: Lane[] = [];
  private readonly parts: LaneParts;
  private readonly keyPrefix: string | undefined;
  private readonly standalone: boolean;
  private readonly commandTimeoutMs: number;
  private readonly readBuffer = Buffer.allocUnsafe(READ_CHUNK);

  /**
   * Keeps only what it needs of `config` (never the password: apps may print the client).
   * Use `FastLane.create`: the lane exists only when its parts load (laneParts.ts).
   */
  private constructor(
    parts: LaneParts,
    config: ConnectorConfig,
    private readonly lendArea: Int32Array,
    private readonly slotTable: Int16Array,
    private readonly socketIds: Float64Array,
    private readonly control: Int32Array,
  ) {
    this.parts = parts;
    this.keyPrefix = config.keyPrefix === "" ? undefined : config.keyPrefix;
    this.standalone = config.topology === "standalone";
    this.commandTimeoutMs = config.commandTimeoutMs;
  }

  static create(
    config: ConnectorConfig,
    lendArea: Int32Array,
    slotTable: Int16Array,
    socketIds: Float64Array,
    control: Int32Array,
  ): FastLane | undefined {
    const parts = laneParts();
    return parts === null ? undefined : new FastLane(parts, config, lendArea, slotTable, socketIds, control);
  }

  get active(): boolean {
    return this.lanes.length > 0;
  }

  /** Reads what the worker lent with the answer just received. */
  adopt(): void {
    const count = Math.min(Atomics.load(this.lendArea, LEND_COUNT), MAX_LANES);
    const lanes: Lane[] = [];
    for (let i = 0; i < count; i++) lanes.push(this.newLane(Atomics.load(this.lendArea, LEND_FD + i), this.socketIds[i]));
    this.lanes = lanes;
  }

  /** Before any request to the worker: it takes the sockets back; it drops those left unusable. */
  release(): void {
    const lanes = this.lanes;
    for (let i = 0; i < lanes.length; i++) {
      const poisoned = lanes[i].poisoned || lanes[i].stale > 0;
      Atomics.store(this.lendArea, LEND_POISONED + i, poisoned ? 1 : 0);
    }
    this.lanes = [];
  }

  /** The worker is gone: its fds may already name other files. Forget them without a syscall. */
  forget(): void {
    this.lanes = [];
  }

  private newLane(fd: number, socketId: number): Lane {
    const lane: Lane = {
      fd,
      socketId,
      stale: 0,
      unusable: false,
      poisoned: false,
      out: [],
      lastUsed: -Infinity,
      parser: undefined as unknown as ReplyParser,
    };
    lane.parser = new this.parts.Parser({
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
        lane.unusable = true;
        lane.poisoned = true;
      },
    });
    return lane;
  }

  /** One command: its reply (or thrown error), or DELEGATE. */
  command(method: MethodIndex, args: unknown[], deadline: number): unknown {
    const command = this.encode(method, args);
    if (command === undefined) return DELEGATE;
    const lane = this.route(command);
    if (lane === undefined) return DELEGATE;
    const exchange = this.exchange(lane, [command], deadline);
    if (exchange.end === "not-sent") return DELEGATE;
    if (exchange.end === "gone") throw new LaneGoneError();
    if (exchange.end === "timed-out") throw timeoutError(command, this.commandTimeoutMs);
    if (exchange.end === "lost") throw abortedByConnectionClose(command);
    const reply = exchange.replies[0];
    if (reply instanceof Error) {
      // MOVED/ASK/TRYAGAIN/CLUSTERDOWN: the server did not run it; ioredis redirects or retries.
      if (!this.standalone && CLUSTER_REDIRECT.test(reply.message)) return DELEGATE;
      throw this.commandError(reply, command);
    }
    return command.transformReply(reply as Buffer);
  }

  /** A pipeline: its `[error, result]` list, or DELEGATE. */
  pipeline(entries: BatchEntry[], deadline: number): BatchReply | Delegate {
    if (entries.length === 0) return DELEGATE;
    const commands: LaneCommand[] = [];
    for (const [method, args] of entries) {
      const command = this.encode(method, args);
      if (command === undefined) return DELEGATE;
      commands.push(command);
      // Building a huge pipeline can outlast its bound: then nothing of it is sent.
      if ((commands.length & (WRITE_CHUNK - 1)) === 0 && performance.now() >= deadline) {
        return commandsNotSent(entries.length, timeoutError(command, this.commandTimeoutMs));
      }
    }
    const lane = this.routeBatch(commands);
    if (lane === undefined) return DELEGATE;
    const exchange = this.exchange(lane, commands, deadline);
    if (exchange.end === "not-sent") return DELEGATE;
    if (exchange.end === "gone") throw new LaneGoneError();
    const replies = exchange.replies;
    if (exchange.end === "answered" && !this.standalone && replies.some(isRedirect) && wouldRetry(commands, replies)) {
      // ioredis's own rule: every failure alike (the server ran none of those) and the rest read-only.
      return DELEGATE;
    }
    const results = this.results(commands, replies);
    if (replies.length < commands.length) {
      // One error object for the whole unanswered tail (huge pipelines stay within their bound).
      const first = commands[replies.length];
      const error = exchange.end === "lost" ? abortedByConnectionClose(first) : timeoutError(first, this.commandTimeoutMs);
      for (let i = replies.length; i < commands.length; i++) results.push([error] as unknown as BatchReply[number]);
    }
    return results;
  }

  private results(commands: LaneCommand[], replies: unknown[]): BatchReply {
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

  private commandError(error: Error, command: LaneCommand): Error {
    // The class ioredis exports, whichever copy of redis-errors the parser loaded.
    const reply = error instanceof ReplyError ? error : Object.assign(new ReplyError(error.message), { name: error.name });
    // What ioredis's DataHandler adds, then the connector's translation (commandErrors.ts).
    (reply as Error & { command?: unknown }).command = { name: command.name, args: command.args };
    return translateCommandError(reply as Error, command.name, this.commandTimeoutMs, this.standalone);
  }

  /** ioredis's own Command for a facade method (as its Commander builds it), or undefined for the worker. */
  private encode(method: MethodIndex, args: unknown[]): LaneCommand | undefined {
    const methodName = METHOD_NAMES[method];
    const buffer = methodName.endsWith("Buffer");
    let name: string;
    let commandArgs = args;
    if (isCallMethod(method)) {
      if (typeof args[0] !== "string") return undefined;
      name = args[0];
      commandArgs = args.slice(1);
    } else {
      name = buffer ? methodName.slice(0, -"Buffer".length) : methodName;
    }
    if (WORKER_ONLY.has(name.toLowerCase())) return undefined;
    const CommandClass: CommandConstructor = this.parts.Command;
    try {
      return new CommandClass(name, commandArgs, { keyPrefix: this.keyPrefix, replyEncoding: buffer ? null : "utf8" });
    } catch {
      return undefined; // the worker raises the same error ioredis does
    }
  }

  private route(command: LaneCommand): Lane | undefined {
    if (this.standalone) return usable(this.lanes[0]);
    if (Atomics.load(this.lendArea, LEND_MAP_STALE) !== 0) return undefined;
    const slot = command.getSlot();
    if (slot === null || slot === undefined) return undefined;
    return usable(this.lanes[this.slotTable[slot]]);
  }

  /**
   * ioredis sends a cluster pipeline to the owner of its keys (keyless commands such as
   * WAIT go along); no key at all, or keys in two slots: the worker decides.
   */
  private routeBatch(commands: LaneCommand[]): Lane | undefined {
    if (this.standalone) return usable(this.lanes[0]);
    if (Atomics.load(this.lendArea, LEND_MAP_STALE) !== 0) return undefined;
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
   * deadline. Whether the call may still go to the worker is decided before the first byte.
   * Commands are encoded and written in chunks, the deadline checked between them: a huge
   * pipeline stops being sent at its deadline instead of overrunning it.
   */
  private exchange(lane: Lane, commands: LaneCommand[], deadline: number): Exchange {
    lane.out = [];
    const limit = Error.stackTraceLimit;
    // EAGAIN arrives as a thrown Error: no stack to capture makes each poll cheap.
    Error.stackTraceLimit = 0;
    try {
      // The fd is checked once per call, before its first byte; a worker that dies during the
      // call itself (a window of microseconds) is not caught here (README.md, "Limits").
      if (!this.owns(lane)) return { end: "gone" };
      // A connection closed while lent (server restart, CLIENT KILL, idle timeout) is found
      // here, before anything is written: the worker reconnects and runs the call, as ioredis
      // would. A look costs a failed read (~10 µs), so it is taken after the lane sat idle.
      if ((lane.stale > 0 || performance.now() - lane.lastUsed > PROBE_AFTER_IDLE_MS) && !this.drainBeforeWrite(lane)) {
        return { end: "not-sent" };
      }
      let sent = 0;
      while (sent < commands.length) {
        if (performance.now() >= deadline) return this.timedOut(lane, sent, false);
        const chunk = commands.length <= WRITE_CHUNK ? commands : commands.slice(sent, sent + WRITE_CHUNK);
        const bytes = toBytes(chunk);
        const write = this.writeAll(lane.fd, bytes, deadline);
        if (write.failed) {
          // The worker closes it, and runs a delegated call only once ioredis has seen that.
          lane.unusable = true;
          lane.poisoned = true;
          // Not one byte of this call left: the worker may run it.
          if (sent === 0 && write.written === 0) return { end: "not-sent" };
          // The connection failed after part of the call went out.
          return { end: "lost", replies: lane.out };
        }
        if (write.written < bytes.length) {
          // The deadline passed mid-write: the commands already in the kernel still reach the
          // server; the half-written one leaves the connection unusable for anyone.
          lane.poisoned = true;
          return this.timedOut(lane, sent, true);
        }
        sent += chunk.length;
      }
      while (lane.out.length < commands.length) {
        const n = this.readSome(lane.fd, deadline);
        if (n === "past-deadline") return this.timedOut(lane, sent, false);
        if (n === "closed") {
          lane.unusable = true;
          lane.poisoned = true;
          return { end: "lost", replies: lane.out };
        }
        // The parser keeps slices of what it is given (Buffer replies): give it its own copy.
        parse(lane.parser, Buffer.from(this.readBuffer.subarray(0, n)));
        if (lane.unusable) return { end: "lost", replies: lane.out };
      }
      lane.lastUsed = performance.now();
      return { end: "answered", replies: lane.out };
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /**
   * The deadline passed with `sent` commands written whole. Standalone: the socket stays in
   * use (their late replies are dropped as they come), as ioredis keeps its connection.
   * Cluster: the node may be hung or cut off while its replica takes over, so its slots go
   * to the worker from now on (it follows the failover), and the worker refreshes its slot map.
   */
  private timedOut(lane: Lane, sent: number, halfWritten: boolean): Exchange {
    lane.stale += sent - lane.out.length;
    if (halfWritten) lane.unusable = true;
    if (!this.standalone) {
      lane.unusable = true;
      Atomics.store(this.lendArea, LEND_REFRESH_WANTED, 1);
    }
    return { end: "timed-out", replies: lane.out };
  }

  /** Whether the fd still names the socket the worker lent (it closes lent fds only when it dies). */
  private owns(lane: Lane): boolean {
    try {
      const stat = fs.fstatSync(lane.fd);
      return stat.isSocket() && stat.ino === lane.socketId;
    } catch {
      return false;
    }
  }

  /**
   * Reads what is already there (late replies of timed-out calls) without waiting; false if
   * the connection turned out closed, or holds a reply nobody asked for.
   */
  private drainBeforeWrite(lane: Lane): boolean {
    for (;;) {
      const n = this.readOnce(lane.fd);
      if (n === "would-block") return lane.out.length === 0 && !lane.unusable;
      if (n === "closed") {
        lane.unusable = true;
        lane.poisoned = true;
        return false;
      }
      parse(lane.parser, Buffer.from(this.readBuffer.subarray(0, n)));
      if (lane.out.length > 0 || lane.unusable) {
        lane.unusable = true;
        lane.poisoned = true;
        return false;
      }
    }
  }

  /** Writes `bytes` until done, the deadline, or an error (`failed`); `written` says how far it got. */
  private writeAll(fd: number, bytes: Buffer, deadline: number): { written: number; failed: boolean } {
    let offset = 0;
    let polls = 0;
    while (offset < bytes.length) {
      try {
        offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
        continue;
      } catch (error) {
        if (!isAgain(error)) return { written: offset, failed: true };
      }
      if (!this.pause(++polls, deadline)) break;
    }
    return { written: offset, failed: false };
  }

  /** Bytes read into readBuffer, or why none came by the deadline. */
  private readSome(fd: number, deadline: number): ReadUntil {
    let polls = 0;
    for (;;) {
      const n = this.readOnce(fd);
      if (n !== "would-block") return n;
      if (!this.pause(++polls, deadline)) return "past-deadline";
    }
  }

  /** One non-blocking read into readBuffer. */
  private readOnce(fd: number): ReadOnce {
    try {
      const n = fs.readSync(fd, this.readBuffer, 0, READ_CHUNK, null);
      return n > 0 ? n : "closed";
    } catch (error) {
      return isAgain(error) ? "would-block" : "closed";
    }
  }

  /** Between two EAGAIN polls: spin a little, then sleep briefly; false once the deadline passed. */
  private pause(polls: number, deadline: number): boolean {
    if (polls < SPIN_POLLS) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(this.control, CTL_SLEEP, 0, Math.min(POLL_SLEEP_MS, left));
    return true;
  }
}

/** Thrown by the lane when a lent fd no longer names its socket: the worker thread died. */
export class LaneGoneError extends Error {
  constructor() {
    super("the sync client's worker thread stopped and closed its connections");
  }
}

function commandsNotSent(count: number, error: Error): BatchReply {
  return Array.from({ length: count }, () => [error] as unknown as BatchReply[number]);
}

/**
 * redis-parser shrinks its pool for big replies on a `setInterval` of its own, which would keep
 * an app's process alive for seconds after `close()` (the worker's copy dies with the worker).
 * While the parser runs on this thread, the interval it may start is made unref'd.
 */
function parse(parser: ReplyParser, chunk: Buffer): void {
  const setIntervalBefore = globalThis.setInterval;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) =>
    setIntervalBefore(...args).unref()) as typeof setInterval;
  try {
    parser.execute(chunk);
  } finally {
    globalThis.setInterval = setIntervalBefore;
  }
}

function usable(lane: Lane | undefined): Lane | undefined {
  return lane === undefined || lane.unusable ? undefined : lane;
}

function isRedirect(reply: unknown): boolean {
  return reply instanceof Error && CLUSTER_REDIRECT.test(reply.message);
}

function isAgain(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "EAGAIN" || code === "EWOULDBLOCK";
}

function toBytes(commands: LaneCommand[]): Buffer {
  return commands.length === 1 ? commandBytes(commands[0]) : Buffer.concat(commands.map(commandBytes));
}

/** A command as ioredis writes it to the socket. */
function commandBytes(command: LaneCommand): Buffer {
  const w = command.toWritable({});
  return typeof w === "string" ? Buffer.from(w) : w;
}

function timeoutError(command: LaneCommand, commandTimeoutMs: number): CommandTimeoutError {
  const error = new CommandTimeoutError(commandTimeoutMessage(command.name, commandTimeoutMs));
  return Object.assign(error, { command: { name: command.name } });
}


/**
 * ioredis's own rule (Pipeline.fillResult): a cluster pipeline is sent again, after the
 * redirection, when every failed command failed alike and every other one is read-only.
 */
function wouldRetry(commands: LaneCommand[], replies: unknown[]): boolean {
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
