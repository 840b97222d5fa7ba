/**
 * The sync facade's worker thread: owns the ioredis client (built by the same
 * createAsyncClient as the async form), answers one request at a time through the
 * shared areas described in protocol.ts. Runs only from the compiled package.
 */
import { readlinkSync } from "fs";
import { workerData } from "worker_threads";
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import { clientTarget, createAsyncClient, lastConnectionError } from "../client/asyncClient";
import { connectionFailureText, isFinalStartupError } from "../client/connectionErrors";
import { scheduleDiagnosis } from "../client/diagnose";
import { learnSlotOwnersFromMovedMessages } from "../client/pipelineRedirects";
import { BUFFER_OVERFLOW, Reader, UNSUPPORTED_VALUE, Writer, encodeToOwnBuffer, restoreBuffers } from "./codec";
import { METHOD_NAMES, type MethodIndex } from "./commands";
import { recordSources } from "../config/provenance";
import { natMappedHostKey } from "../endpoint";
import { IOREDIS_TIMEOUT_MESSAGE } from "../errors";
import { SyncClientClosedError, SyncConnectError } from "./syncErrors";
import { redirectedReads } from "./redirectedReads";
import { SocketLender } from "./socketLending";
import { TransactionState } from "./transactionState";
import {
  BATCH_MULTI,
  CTL_REPLY_KIND,
  CTL_REPLY_SEQ,
  CTL_REPLY_STATUS,
  CTL_REQ_SEQ,
  CTL_WORKER_GONE,
  CTL_WORKER_TID,
  OP_BATCH,
  OP_CLOSE,
  OP_COMMAND,
  OP_LEARN,
  READY_SEQ,
  REPLY_AREA_BYTES,
  REPLY_IN_PORT_BYTES,
  REPLY_IN_PORT_CLONE,
  REPLY_IN_SHARED,
  STATUS_THROW,
  STATUS_VALUE,
  type BatchEntry,
  type BatchKind,
  type Request,
  type RequestMessage,
  type WorkerInit,
} from "./protocol";

type Method = (...args: unknown[]) => Promise<unknown>;
type MethodTable = Record<string, Method>;
interface Batch {
  exec(): Promise<unknown>;
}

const init = workerData as WorkerInit;
const { config, port } = init;
const control = new Int32Array(init.control);
Atomics.store(control, CTL_WORKER_TID, osThreadId());

/** This thread's OS thread id (Linux), so a blocked caller can tell whether it still runs; 0 if unknown. */
function osThreadId(): number {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    return Number.isInteger(tid) && tid > 0 ? tid : 0;
  } catch {
    return 0;
  }
}
const requestReader = new Reader(Buffer.from(init.requestArea), (e) => new Error(e.message));
const replyWriter = new Writer(Buffer.from(init.replyArea));

/** The only request we may answer: the caller has given up on every older one. */
let latestSeq = READY_SEQ;
let answeredSeq = 0;
let lastError: Error | undefined;

// Messages name where host/port came from, as in the calling thread.
if (init.sources !== undefined) recordSources(config, new Map(Object.entries(init.sources)));
const client: Redis | Cluster = createAsyncClient(config);
/** For MOVED replies the fast lane saw: the slot map's `host:port` of an announced address. */
const toHostKey = natMappedHostKey(config.cluster.natMap);
const methods = client as unknown as MethodTable;
/** Fast lane on: idle sockets are lent to the caller with each answer (socketLending.ts). */
const lender =
  init.lending === undefined
    ? undefined
    : new SocketLender(
        client,
        new Int32Array(init.lending.lendArea),
        new Int16Array(init.lending.slotTable),
        new Float64Array(init.lending.socketIds),
        config.topology === "standalone",
      );
/** WATCH / MULTI state of the connection: pins it (nothing is lent) and fails an EXEC whose WATCH was lost. */
const transaction = new TransactionState(client);
/** Bound on waiting for a dropped connection's close to reach ioredis before the next request runs. */
const CLOSE_WAIT_MS = 1000;
/** Set once closing starts: nothing is lent any more. */
let closing = false;

// The client's own record: secret-free, and an AUTH refusal is not replaced by the NOAUTH after it.
// A Cluster reports each node's trouble as "node error"; the auth failure of a node is the useful one.
const onConnectionError = (): void => {
  lastError = lastConnectionError(client);
  if (answeredSeq < READY_SEQ && lastError !== undefined && isFinalStartupError(lastError)) failStartup();
};
client.on("error", onConnectionError);
client.on("node error", onConnectionError);

// The client gave up reconnecting (e.g. the cluster retry strategy's bound): no point waiting.
client.on("end", () => {
  if (answeredSeq < READY_SEQ) failStartup();
});

const startupTimer = setTimeout(failStartup, config.connectTimeoutMs);
// Nothing reported by then: a bounded look at the server's port says why (TLS mismatch, not Redis...).
let diagnosis: string | undefined;
const diagnoseTimer = scheduleDiagnosis(clientTarget(client), config.connectTimeoutMs, (verdict) => {
  diagnosis = verdict;
});
client.once("ready", () => {
  clearTimeout(startupTimer);
  clearTimeout(diagnoseTimer);
  answer(READY_SEQ, STATUS_VALUE, true);
});

function describeTarget(): string {
  return clientTarget(client)?.description ?? config.topology;
}

function failStartup(): void {
  if (answeredSeq >= READY_SEQ) return;
  clearTimeout(startupTimer);
  clearTimeout(diagnoseTimer);
  const cause = connectionFailureText(lastError, diagnosis);
  const err = new SyncConnectError(
    `Could not connect to ${describeTarget()} within connectTimeoutMs=${config.connectTimeoutMs} ms: ${cause}`,
  );
  answer(READY_SEQ, STATUS_THROW, err);
  shutDown();
}

function shutDown(): void {
  closing = true;
  Atomics.store(control, CTL_WORKER_GONE, 1);
  lender?.reclaim();
  client.disconnect();
  port.close();
}

port.on("message", (msg: RequestMessage) => {
  handleMessage(msg);
});

function handleMessage(msg: RequestMessage): void {
  // Every request starts with the sockets back in ioredis's hands (the caller lent them back).
  const dropped = lender?.reclaim() ?? [];
  let seq: number;
  let request: Request;
  try {
    if (typeof msg === "number") {
      seq = msg;
      // Seqlock: the area belongs to this request only if REQ_SEQ says so before and after.
      if (Atomics.load(control, CTL_REQ_SEQ) !== seq) return;
      requestReader.reset();
      request = readRequest(requestReader);
      if (Atomics.load(control, CTL_REQ_SEQ) !== seq) return;
    } else if ("bytes" in msg) {
      seq = msg.seq;
      const buf = Buffer.from(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength);
      requestReader.reset(buf);
      try {
        request = readRequest(requestReader);
      } finally {
        requestReader.reset(Buffer.from(init.requestArea));
      }
    } else {
      seq = msg.seq;
      request = restoreBuffers(msg.request) as Request;
    }
  } catch (e) {
    seq = typeof msg === "number" ? msg : msg.seq;
    // A torn read of a request the caller already replaced: its successor is on the way.
    if (typeof msg === "number" && Atomics.load(control, CTL_REQ_SEQ) !== seq) return;
    latestSeq = seq;
    answer(seq, STATUS_THROW, e);
    return;
  }
  latestSeq = seq;
  if (dropped.length === 0) run(seq, request);
  else {
    // ioredis must see those connections closed first: a command written to one now would be
    // lost with it and fail as possibly run, although it never left this process.
    void afterClose(dropped).then(() => run(seq, request));
  }
}

/** Resolves once every dropped connection's close reached ioredis (bounded). */
function afterClose(closes: Array<Promise<void>>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_WAIT_MS);
  });
  return Promise.race([Promise.all(closes), bound]).then(
    // ioredis's close handler ran in the same event; its "end" (cluster: node removed) follows on the next tick.
    () =>
      new Promise<void>((resolve) => {
        clearTimeout(timer);
        setImmediate(resolve);
      }),
  );
}

function readRequest(r: Reader): Request {
  const op = r.u8();
  if (op === OP_COMMAND) {
    const method = r.value() as MethodIndex;
    const args = r.value() as unknown[];
    return { op, method, args };
  }
  if (op === OP_BATCH) {
    const kind = r.u8() as BatchKind;
    const entries = r.value() as BatchEntry[];
    return { op, kind, entries };
  }
  if (op === OP_CLOSE) return { op };
  if (op === OP_LEARN) return { op, moved: r.value() as string[] };
  throw new Error(`sync client protocol: unknown request op ${op}`);
}

function run(seq: number, request: Request): void {
  let pending: Promise<unknown>;
  let what = "request";
  try {
    if (request.op === OP_COMMAND) {
      what = METHOD_NAMES[request.method];
      const verb = transaction.verbOf(what, request.args);
      const refusal = transaction.refusal(verb);
      if (refusal !== undefined) {
        answer(seq, STATUS_THROW, refusal);
        return;
      }
      pending = transaction.track(verb, methods[what](...request.args));
    } else if (request.op === OP_BATCH) {
      what = request.kind === BATCH_MULTI ? "multi" : "pipeline";
      if (request.kind === BATCH_MULTI) {
        const refusal = transaction.refusal("exec");
        if (refusal !== undefined) {
          answer(seq, STATUS_THROW, refusal);
          return;
        }
      }
      const batch = (request.kind === BATCH_MULTI ? client.multi() : client.pipeline()) as unknown as MethodTable &
        Batch;
      for (const [method, args] of request.entries) batch[METHOD_NAMES[method]](...args);
      pending =
        request.kind === BATCH_MULTI
          ? transaction.track("exec", batch.exec())
          : batch.exec().then((results) => rerunRedirectedReads(request.entries, results));
    } else if (request.op === OP_LEARN) {
      if (config.topology === "cluster") {
        learnSlotOwnersFromMovedMessages(client as Cluster, request.moved, toHostKey);
      }
      pending = Promise.resolve(true);
    } else {
      closing = true;
      pending = quit();
    }
  } catch (e) {
    answer(seq, STATUS_THROW, e);
    return;
  }
  pending.then(
    (value) => answer(seq, STATUS_VALUE, value),
    (e: unknown) => answer(seq, STATUS_THROW, nameTimedOutCommand(e, what)),
  );
}

/** A cluster pipeline's read-only commands a redirection answered, run again one by one (redirectedReads.ts). */
async function rerunRedirectedReads(entries: BatchEntry[], results: unknown): Promise<unknown> {
  for (const i of redirectedReads(config.topology, entries, results)) {
    const [method, args] = entries[i];
    (results as unknown[])[i] = await methods[METHOD_NAMES[method]](...args).then(
      (value) => [null, value],
      (error: unknown) => [error],
    );
  }
  return results;
}

/** ioredis's "Command timed out" carries no command; the caller's message wants it. */
function nameTimedOutCommand(e: unknown, what: string): unknown {
  if (e instanceof Error && e.message === IOREDIS_TIMEOUT_MESSAGE && !("command" in e)) {
    (e as Error & { command: { name: string } }).command = { name: what.replace(/Buffer$/, "") };
  }
  return e;
}

async function quit(): Promise<string> {
  const bound = Math.min(config.commandTimeoutMs, 2000);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit().catch(() => "OK"),
      new Promise((resolve) => {
        timer = setTimeout(resolve, bound);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  // Answer before the port closes; the caller terminates this thread right after.
  setImmediate(shutDown);
  return "OK";
}

/**
 * Writes the reply for `seq` and wakes the caller: only for the latest request, only
 * once (a late reply to an abandoned request is dropped).
 */
function answer(seq: number, status: number, value: unknown): void {
  if (seq !== latestSeq || seq <= answeredSeq) return;
  let kind = REPLY_IN_SHARED;
  try {
    replyWriter.reset();
    replyWriter.value(value);
  } catch (e) {
    if (e === BUFFER_OVERFLOW) {
      const { bytes, transfer } = encodeToOwnBuffer((w) => w.value(value), REPLY_AREA_BYTES * 2);
      port.postMessage({ seq, bytes }, [transfer]);
      kind = REPLY_IN_PORT_BYTES;
    } else if (e === UNSUPPORTED_VALUE) {
      try {
        port.postMessage({ seq, value });
        kind = REPLY_IN_PORT_CLONE;
      } catch (cloneError) {
        replyWriter.reset();
        replyWriter.value(cloneError);
        status = STATUS_THROW;
      }
    } else {
      throw e;
    }
  }
  answeredSeq = seq;
  lendSockets(status);
  Atomics.store(control, CTL_REPLY_KIND, kind);
  Atomics.store(control, CTL_REPLY_STATUS, status);
  Atomics.store(control, CTL_REPLY_SEQ, seq);
  Atomics.notify(control, CTL_REPLY_SEQ);
}

/** Before an answer: lend the idle connections, unless the client is stopping or failed to start. */
function lendSockets(status: number): void {
  if (lender === undefined || closing || Atomics.load(control, CTL_WORKER_GONE) !== 0) return;
  // WATCH or MULTI pins the connection: every call stays on it, through ioredis.
  if (transaction.pinned) return;
  if (answeredSeq === READY_SEQ && status === STATUS_THROW) return;
  try {
    lender.lend();
  } catch {
    // Nothing lent: every call takes the worker path.
    lender.reclaim();
  }
}

// A bug here must not leave the caller blocked until its timeout: say so, then stop.
process.on("uncaughtException", (e: Error) => {
  // Gone first, so a caller that is between requests sees it before it sends one.
  Atomics.store(control, CTL_WORKER_GONE, 1);
  answer(latestSeq, STATUS_THROW, new SyncClientClosedError(`The sync client's worker thread failed: ${e.message}`));
  process.exit(1);
});
