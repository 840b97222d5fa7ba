/**
 * The wire between the calling thread and the worker: one control Int32Array and two
 * byte areas, all SharedArrayBuffers made once per client.
 *
 * Request: the caller writes the encoded request into the request area under a
 * seqlock (REQ_SEQ = 0 while writing, then the request's seq) and wakes the worker's
 * event loop with a tiny `postMessage(seq)`. A request too big for the area, or with a
 * value the codec cannot encode, travels in the message itself. (Measured: having the
 * worker wait in `Atomics.wait` for the next request instead was no faster here.)
 * Reply: the worker writes the encoded reply into the reply area, sets REPLY_KIND /
 * REPLY_STATUS, stores REPLY_SEQ = seq and `Atomics.notify`s; the caller blocks in
 * `Atomics.wait` on REPLY_SEQ. A reply too big for the area goes through the port
 * (`receiveMessageOnPort`). The worker answers only its latest request, once, so a
 * late reply can never overwrite one the caller is reading.
 */

import type { MethodIndex } from "./commands";

export const CTL_REQ_SEQ = 0;
export const CTL_REPLY_SEQ = 1;
export const CTL_REPLY_KIND = 2;
export const CTL_REPLY_STATUS = 3;
/** Set by the worker when it stops for good (crash, close). */
export const CTL_WORKER_GONE = 4;
/**
 * The worker thread's OS thread id (Linux: from /proc/thread-self; 0 elsewhere): the caller,
 * blocked and so deaf to the worker's exit event, checks /proc/self/task/<tid> to notice a
 * worker that stopped without running its own handler (terminate, out of memory).
 */
export const CTL_WORKER_TID = 5;
/** Never written: the caller sleeps on it (`Atomics.wait` with a timeout) between polls. */
export const CTL_SLEEP = 7;
export const CTL_SLOTS = 8;

export const REPLY_IN_SHARED = 0;
/** Codec bytes in a transferred buffer, message `{ seq, bytes }`. */
export const REPLY_IN_PORT_BYTES = 1;
/** Structured clone, message `{ seq, value }` (values the codec cannot encode). */
export const REPLY_IN_PORT_CLONE = 2;

export const STATUS_VALUE = 0;
export const STATUS_THROW = 1;

/** The start-up handshake answers this seq; requests start after it. */
export const READY_SEQ = 1;

export const OP_COMMAND = 1;
export const OP_BATCH = 2;
export const OP_CLOSE = 3;
/** Fast lane: MOVED replies it saw in a cluster pipeline, for the worker's slot map. */
export const OP_LEARN = 4;

export const BATCH_PIPELINE = 0;
export const BATCH_MULTI = 1;
/** How a batch runs: a pipeline, or a MULTI/EXEC transaction. */
export type BatchKind = typeof BATCH_PIPELINE | typeof BATCH_MULTI;

/**
 * The lend area (Int32Array, fast lane): how many sockets the worker lent with its last
 * answer (0: none, every call goes to the worker), their fds by lane, and per lane a flag
 * the caller sets when it leaves that socket unusable (half-written command, replies it
 * will not read): the worker then drops that connection and ioredis opens a new one.
 */
export const MAX_LANES = 64;
export const LEND_COUNT = 0;
/**
 * Set by the worker when its cluster slot map changed while sockets were lent (a refresh
 * found a failover or a resharding): the lane's slot table is out of date, so every call
 * goes to the worker, which lends again with the new table.
 */
export const LEND_MAP_STALE = 1;
/** Set by the caller after a lane timed out on a cluster node: the worker refreshes its slot map. */
export const LEND_REFRESH_WANTED = 2;
export const LEND_FD = 3;
export const LEND_POISONED = LEND_FD + MAX_LANES;
export const LEND_SLOTS = LEND_POISONED + MAX_LANES;
/** Cluster slot -> lane of its master's lent socket (-1: not lent), an Int16Array. */
export const SLOT_COUNT = 16384;

export const REQUEST_AREA_BYTES = 256 * 1024;
export const REPLY_AREA_BYTES = 1024 * 1024;

/** One queued command of a batch: method (its index in commands.ts METHOD_NAMES) and arguments. */
export type BatchEntry = [method: MethodIndex, args: unknown[]];

/** A request in decoded form (as the worker sees it). */
export type Request =
  | { op: typeof OP_COMMAND; method: MethodIndex; args: unknown[] }
  | { op: typeof OP_BATCH; kind: BatchKind; entries: BatchEntry[] }
  | { op: typeof OP_CLOSE }
  | { op: typeof OP_LEARN; moved: string[] };

/** Messages from the caller to the worker. */
export type RequestMessage =
  | number // seq: the request is in the shared area
  | { seq: number; bytes: Uint8Array } // codec bytes
  | { seq: number; request: Request }; // structured clone

/** Messages from the worker to the caller (large replies only). */
export type ReplyMessage = { seq: number; bytes: Uint8Array } | { seq: number; value: unknown };

/** What the worker gets as workerData. */
export interface WorkerInit {
  config: import("../config/types").ConnectorConfig;
  /** Where each setting came from (config/provenance.ts): structured clone keeps only the plain config. */
  sources?: Readonly<Record<string, string>>;
  control: SharedArrayBuffer;
  requestArea: SharedArrayBuffer;
  replyArea: SharedArrayBuffer;
  port: import("worker_threads").MessagePort;
  /**
   * Present when the fast lane is on: the lend area and the slot table (above), and each
   * lent socket's inode (a Float64Array by lane): the caller checks the fd still names that
   * socket before and after using it, so an fd the worker closed (it died) and the process
   * reused is never read or written.
   */
  lending?: { lendArea: SharedArrayBuffer; slotTable: SharedArrayBuffer; socketIds: SharedArrayBuffer };
}
