/**
 * The calling thread's end of the sync client: an ioredis client runs in a worker thread, the
 * caller blocks in `Atomics.wait` until the reply is in shared memory (protocol.ts), or runs
 * the call itself on a socket the worker lent (fastLane.ts).
 */
import { existsSync } from "fs";
import * as path from "path";
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "worker_threads";
import { settingSources } from "../config/provenance";
import type { ConnectorConfig } from "../config/types";
import { movedMessagesIn } from "../client/pipelineRedirects";
import { BUFFER_OVERFLOW, Reader, UNSUPPORTED_VALUE, Writer, encodeToOwnBuffer, restoreBuffers } from "./codec";
import { METHOD_NAMES, isCallMethod, type MethodIndex } from "./commands";
import { makeErrorReviver } from "./errorRevival";
import { DELEGATE, FastLane, LaneGoneError } from "./fastLane";
import { redirectedReads } from "./redirectedReads";
import { SyncClientClosedError, facadeTimeout } from "./syncErrors";
import {
  BATCH_MULTI,
  BATCH_PIPELINE,
  CTL_REPLY_KIND,
  CTL_REPLY_SEQ,
  CTL_REPLY_STATUS,
  CTL_REQ_SEQ,
  CTL_SLEEP,
  CTL_SLOTS,
  CTL_WORKER_GONE,
  CTL_WORKER_TID,
  LEND_SLOTS,
  MAX_LANES,
  OP_BATCH,
  OP_CLOSE,
  OP_COMMAND,
  OP_LEARN,
  READY_SEQ,
  REPLY_AREA_BYTES,
  REPLY_IN_PORT_BYTES,
  REPLY_IN_SHARED,
  REQUEST_AREA_BYTES,
  SLOT_COUNT,
  STATUS_THROW,
  type BatchEntry,
  type BatchKind,
  type ReplyMessage,
  type Request,
  type WorkerInit,
} from "./protocol";
import type { BatchReply } from "./types";

/**
 * Added to commandTimeoutMs for the caller's own bound. ioredis's commandTimeout
 * (in the worker) normally answers first; this bound catches a stuck or dead worker.
 */
export const SYNC_TIMEOUT_MARGIN_MS = 500;
/** Added to connectTimeoutMs for starting the worker thread and loading ioredis in it. */
export const WORKER_START_MARGIN_MS = 5000;
/** Bound on close(): QUIT gets at most this long before the worker is terminated. */
const CLOSE_BOUND_MS = 2000;

const WORKER_FILE = path.join(__dirname, "worker.js");

/**
 * While blocked on the worker, how often the caller checks the worker thread still runs: a
 * worker that stopped without its own handler (terminate, out of memory) never answers, and
 * its exit event cannot reach a thread that is blocked.
 */
const LIVENESS_CHECK_MS = 50;

/** Bound on telling the worker about MOVED replies the fast lane saw. */
const LEARN_BOUND_MS = 1000;

/**
 * The request/reply channel to one worker thread, and the fast lane beside it. One request
 * in flight at a time; every wait is bounded.
 */
export class WorkerChannel {
  private readonly control = new Int32Array(new SharedArrayBuffer(CTL_SLOTS * 4));
  private readonly requestArea = new SharedArrayBuffer(REQUEST_AREA_BYTES);
  private readonly replyArea = new SharedArrayBuffer(REPLY_AREA_BYTES);
  private readonly writer = new Writer(Buffer.from(this.requestArea));
  private readonly replyBuffer = Buffer.from(this.replyArea);
  private readonly reader: Reader;
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private readonly commandBoundMs: number;
  private readonly commandTimeoutMs: number;
  private readonly topology: ConnectorConfig["topology"];
  private readonly fast: FastLane | undefined;
  private seq = READY_SEQ;
  closed = false;
  /** Why the worker thread stopped, when it stopped on its own (named in SyncClientClosedError). */
  private workerStopped: string | undefined;
  private laneAnswered = 0;

  /** `fastLane`: run calls on the calling thread over lent sockets where the config allows it (syncClient.ts SyncClientOptions). */
  constructor(config: ConnectorConfig, fastLane: boolean) {
    if (!existsSync(WORKER_FILE)) {
      throw new Error(
        `The sync Redis client needs its compiled worker (${WORKER_FILE} is missing). ` +
          "It runs from the built package (connector/dist): run `npm run build` and import " +
          "@redis-on-docker/connector rather than its TypeScript sources.",
      );
    }
    this.reader = new Reader(this.replyBuffer, makeErrorReviver(config.commandTimeoutMs));
    this.commandBoundMs = config.commandTimeoutMs + SYNC_TIMEOUT_MARGIN_MS;
    this.commandTimeoutMs = config.commandTimeoutMs;
    this.topology = config.topology;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const init: WorkerInit = {
      config,
      sources: settingSources(config),
      control: this.control.buffer as SharedArrayBuffer,
      requestArea: this.requestArea,
      replyArea: this.replyArea,
      port: port2,
    };
    // TLS: the bytes on the fd are encrypted. scaleReads other than master: ioredis sends reads to replicas.
    const laneFits = !config.tls && (config.topology === "standalone" || config.cluster.scaleReads === "master");
    if (fastLane && laneFits) {
      const lendArea = new SharedArrayBuffer(LEND_SLOTS * 4);
      const slotTable = new SharedArrayBuffer(SLOT_COUNT * 2);
      const socketIds = new SharedArrayBuffer(MAX_LANES * 8);
      this.fast = FastLane.create(config, new Int32Array(lendArea), new Int16Array(slotTable), new Float64Array(socketIds), this.control);
      if (this.fast !== undefined) init.lending = { lendArea, slotTable, socketIds };
    }
    this.worker = new Worker(WORKER_FILE, {
      workerData: init,
      transferList: [port2],
      // Not the parent's flags: `-r ts-node/register` would load a compiler into the worker.
      execArgv: [],
    });
    // Every exchange is synchronous, so nothing is ever waited for on the event loop:
    // an app that forgets close() still exits (the worker dies with the process).
    this.worker.unref();
    this.port.unref();
    // A worker that stops without its own handler running (terminate, out of memory) closes
    // its sockets: from then on no lent fd may be touched, and every call says why.
    this.worker.on("error", (error: Error) => {
      this.workerGone(`its worker thread failed: ${error.message}`);
    });
    this.worker.on("exit", (code: number) => {
      this.workerGone(`its worker thread exited (code ${code})`);
    });
    try {
      this.awaitReply(READY_SEQ, "connecting", config.connectTimeoutMs + WORKER_START_MARGIN_MS);
    } catch (e) {
      this.end();
      throw e;
    }
  }

  /**
   * Whether the worker thread still runs, asked synchronously (its exit event needs the event
   * loop, which a blocked caller does not run). Linux: its /proc/self/task entry. Elsewhere
   * only the exit event and the call's bound tell.
   */
  private workerAlive(): boolean {
    const tid = Atomics.load(this.control, CTL_WORKER_TID);
    return tid <= 0 || existsSync(`/proc/self/task/${tid}`);
  }

  /**
   * The worker stopped on its own: forget the lent fds (they may name other files now) and make
   * sure the thread is gone (terminating one that already exited does nothing).
   */
  private workerGone(cause: string): void {
    if (this.closed) return;
    this.workerStopped ??= cause;
    this.fast?.forget();
    this.closed = true;
    this.port.close();
    this.worker.terminate().catch(() => undefined);
  }

  private closedError(): SyncClientClosedError {
    return new SyncClientClosedError(
      this.workerStopped === undefined
        ? "The sync Redis client is closed; create a new one."
        : `The sync Redis client stopped: ${this.workerStopped}. Create a new client.`,
    );
  }

  /** Ends the worker thread as a crash would, without close() (syncClient.ts terminateWorker, for fault tests). */
  terminateWorker(): Promise<number> {
    return this.worker.terminate();
  }

  /** Calls the fast lane answered: a reply, a reply error, its timeout or a lost connection (read by syncClient.ts fastLaneCalls). */
  get fastLaneCalls(): number {
    return this.laneAnswered;
  }

  /** One command (`method`: its index in METHOD_NAMES): its reply, or the error thrown. */
  command(method: MethodIndex, args: unknown[]): unknown {
    let bound = this.commandBoundMs;
    if (this.fast?.active && this.isOpen()) {
      const start = performance.now();
      let value: unknown;
      try {
        value = this.fast.command(method, args, start + this.commandTimeoutMs);
      } catch (error) {
        if (error instanceof LaneGoneError) throw this.laneGone();
        this.laneAnswered++; // answered by the lane: a reply error, its timeout or a lost connection
        throw error;
      }
      if (value !== DELEGATE) {
        this.laneAnswered++;
        return value;
      }
      bound = Math.max(1, start + this.commandBoundMs - performance.now());
    }
    const seq = this.begin();
    const w = this.writer;
    try {
      w.reset();
      w.u8(OP_COMMAND);
      w.number(method);
      w.array(args);
      this.sendShared(seq);
    } catch (e) {
      this.sendFallback(e, seq, { op: OP_COMMAND, method, args }, (x) => {
        x.u8(OP_COMMAND);
        x.number(method);
        x.array(args);
      });
    }
    // call("GET", ...) times out as GET, not CALL.
    const what = isCallMethod(method) && typeof args[0] === "string" ? args[0].toUpperCase() : method;
    return this.awaitReply(seq, what, bound);
  }

  /** A pipeline or MULTI batch: its `[error, result]` list (MULTI: null when WATCH aborted it). */
  batch(kind: BatchKind, entries: BatchEntry[]): unknown {
    if (kind === BATCH_PIPELINE && this.fast?.active && this.isOpen()) {
      const start = performance.now();
      let results: BatchReply | typeof DELEGATE;
      try {
        results = this.fast.pipeline(entries, start + this.commandTimeoutMs);
      } catch (error) {
        if (error instanceof LaneGoneError) throw this.laneGone();
        throw error;
      }
      if (results !== DELEGATE) {
        this.laneAnswered++;
        // As the worker path does (redirectedReads.ts): the server ran none of these.
        for (const i of redirectedReads(this.topology, entries, results)) {
          const [method, args] = entries[i];
          try {
            results[i] = [null, this.command(method, args)] as BatchReply[number];
          } catch (error) {
            results[i] = [error as Error] as unknown as BatchReply[number];
          }
        }
        const moved = movedMessagesIn(results);
        // Within the call's own bound: the worker is told only if time is left.
        const left = start + this.commandBoundMs - performance.now();
        if (moved.length > 0 && left >= 1) this.learn(moved, Math.min(LEARN_BOUND_MS, left));
        return results;
      }
      return this.workerBatch(kind, entries, Math.max(1, start + this.commandBoundMs - performance.now()));
    }
    return this.workerBatch(kind, entries, this.commandBoundMs);
  }

  /** Tells the worker's cluster client the new slot owners from MOVED replies; best effort, bounded. */
  private learn(moved: string[], boundMs: number): void {
    try {
      const seq = this.begin();
      this.writer.reset();
      this.writer.u8(OP_LEARN);
      this.writer.array(moved);
      this.sendShared(seq);
      this.awaitReply(seq, "slot map update", boundMs);
    } catch {
      // The periodic slot refresh and the next redirection learn it too.
    }
  }

  private workerBatch(kind: BatchKind, entries: BatchEntry[], bound: number): unknown {
    const seq = this.begin();
    const write = (x: Writer): void => {
      x.u8(OP_BATCH);
      x.u8(kind);
      x.array(entries);
    };
    try {
      this.writer.reset();
      write(this.writer);
      this.sendShared(seq);
    } catch (e) {
      this.sendFallback(e, seq, { op: OP_BATCH, kind, entries }, write);
    }
    return this.awaitReply(seq, kind === BATCH_MULTI ? "MULTI batch" : "pipeline", bound);
  }

  /** QUIT (bounded), then end the worker. Never throws. */
  close(sendQuit: boolean): void {
    if (this.closed) return;
    if (sendQuit && Atomics.load(this.control, CTL_WORKER_GONE) === 0) {
      try {
        const seq = this.begin();
        this.writer.reset();
        this.writer.u8(OP_CLOSE);
        this.sendShared(seq);
        this.awaitReply(seq, "QUIT", CLOSE_BOUND_MS + SYNC_TIMEOUT_MARGIN_MS);
      } catch {
        // Closing anyway: the worker is terminated below.
      }
    }
    this.end();
  }

  private end(): void {
    if (this.workerStopped === undefined) this.fast?.release();
    this.closed = true;
    this.port.close();
    this.worker.terminate().catch(() => undefined);
  }

  /** A lent fd no longer names its socket: the worker died before its exit event could be seen. */
  private laneGone(): SyncClientClosedError {
    this.workerGone("its worker thread stopped and closed its connections");
    return this.closedError();
  }

  /** Open and its worker alive (a worker that stopped took its sockets with it). */
  private isOpen(): boolean {
    return !this.closed && Atomics.load(this.control, CTL_WORKER_GONE) === 0;
  }

  private begin(): number {
    if (this.closed) throw this.closedError();
    if (Atomics.load(this.control, CTL_WORKER_GONE) !== 0) {
      this.workerGone("its worker thread has stopped");
      throw this.closedError();
    }
    // The worker takes every lent socket back before it runs a request.
    this.fast?.release();
    const seq = ++this.seq;
    // Seqlock: the worker must not read the area while it is being rewritten.
    Atomics.store(this.control, CTL_REQ_SEQ, 0);
    return seq;
  }

  private sendShared(seq: number): void {
    Atomics.store(this.control, CTL_REQ_SEQ, seq);
    this.port.postMessage(seq);
  }

  private sendFallback(e: unknown, seq: number, request: Request, write: (w: Writer) => void): void {
    if (e === BUFFER_OVERFLOW) {
      const { bytes, transfer } = encodeToOwnBuffer(write, REQUEST_AREA_BYTES * 2);
      this.port.postMessage({ seq, bytes }, [transfer]);
    } else if (e === UNSUPPORTED_VALUE) {
      // Maps, class instances, …: structured clone keeps what ioredis can use of them.
      this.port.postMessage({ seq, request });
    } else {
      throw e;
    }
  }

  /**
   * Blocks until the reply to `seq` is in; `what` (a method, or words) names it in a
   * timeout. No spinning before the wait: measured on these 2-core machines it only took
   * CPU from the worker and Redis (30 µs and 100 µs spins were slower than none).
   */
  private awaitReply(seq: number, what: MethodIndex | string, boundMs: number): unknown {
    const control = this.control;
    let current = Atomics.load(control, CTL_REPLY_SEQ);
    if (current !== seq) {
      const deadline = performance.now() + boundMs;
      do {
        const left = deadline - performance.now();
        if (left <= 0) throw facadeTimeout(describeRequest(what), boundMs);
        if (Atomics.wait(control, CTL_REPLY_SEQ, current, Math.min(left, LIVENESS_CHECK_MS)) === "timed-out" && !this.workerAlive()) {
          this.workerGone("its worker thread stopped");
          throw this.closedError();
        }
        current = Atomics.load(control, CTL_REPLY_SEQ);
      } while (current !== seq);
    }
    // The answer came with the sockets the worker lends until the next request.
    this.fast?.adopt();
    const kind = Atomics.load(control, CTL_REPLY_KIND);
    const status = Atomics.load(control, CTL_REPLY_STATUS);
    let value: unknown;
    if (kind === REPLY_IN_SHARED) {
      this.reader.reset(this.replyBuffer);
      value = this.reader.value();
    } else {
      value = this.receiveLargeReply(seq, kind, what, boundMs);
    }
    if (status === STATUS_THROW) throw value;
    return value;
  }

  private receiveLargeReply(seq: number, kind: number, what: MethodIndex | string, boundMs: number): unknown {
    const deadline = performance.now() + boundMs;
    for (;;) {
      const received = receiveMessageOnPort(this.port);
      if (received === undefined) {
        if (performance.now() > deadline) throw facadeTimeout(describeRequest(what), boundMs);
        Atomics.wait(this.control, CTL_SLEEP, 0, 1);
        continue;
      }
      const msg = received.message as ReplyMessage;
      if (msg.seq !== seq) continue; // the reply to a request the caller gave up on
      if (kind === REPLY_IN_PORT_BYTES && "bytes" in msg) {
        this.reader.reset(Buffer.from(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength));
        try {
          return this.reader.value();
        } finally {
          this.reader.reset(this.replyBuffer);
        }
      }
      return restoreBuffers("value" in msg ? msg.value : undefined);
    }
  }
}

function describeRequest(what: MethodIndex | string): string {
  return typeof what === "number" ? METHOD_NAMES[what].replace(/Buffer$/, "").toUpperCase() : what;
}
