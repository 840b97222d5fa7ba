/**
 * The one place that reads ioredis's private state (fields not in its public typings), each
 * read checked for shape: when an ioredis release changes one, the feature that needs it
 * switches off (the sync client lends nothing and every call takes the worker path; unfulfilled
 * commands fail by their own timeout instead of at once) rather than misbehaving.
 * The ioredis range in package.json is the one these were tested with;
 * test/connector/syncInternals.test.ts lists every field and fails when one moves.
 */
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import type { Socket } from "net";

/** Every private field read here, by class (the test checks each on a live client). */
export const IOREDIS_PRIVATE_FIELDS = {
  Redis: ["stream", "commandQueue", "offlineQueue", "condition", "prevCommandQueue"],
  Cluster: ["connectionPool", "_groupsBySlot", "_groupsIds"],
  ConnectionPool: ["getInstanceByKey"],
} as const;

let warned = false;
/** Says once per process that a private field had another shape and what is off because of it. */
export function warnInternalsChanged(what: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    `ioredis's internals differ from the ones this connector was tested with (${what}); the sync client's fast lane is off.`,
    { code: "REDIS_CONNECTOR_FAST_LANE_OFF" },
  );
}

interface Queue<T> {
  length: number;
  shift(): T | undefined;
}

interface RedisPrivate {
  stream?: Socket;
  status: string;
  commandQueue?: Queue<unknown>;
  offlineQueue?: Queue<unknown>;
  condition?: { subscriber?: unknown } | null;
  prevCommandQueue?: Queue<{ command?: { reject?(error: Error): void; name?: string; args?: unknown[] } }> | null;
}

/** What the socket lender needs to know of one connection. */
export interface ConnectionState {
  socket: Socket | undefined;
  ready: boolean;
  /** Commands written and not answered, or waiting for the connection. */
  busy: boolean;
  subscriber: boolean;
}

function isQueue(value: unknown): value is Queue<unknown> {
  return typeof value === "object" && value !== null && typeof (value as Queue<unknown>).length === "number";
}

/** A connection's state, or undefined when ioredis's private fields do not have the expected shape. */
export function connectionState(redis: Redis): ConnectionState | undefined {
  const r = redis as unknown as RedisPrivate;
  if (!isQueue(r.commandQueue) || !isQueue(r.offlineQueue)) return undefined;
  if (r.stream !== undefined && (typeof r.stream !== "object" || r.stream === null)) return undefined;
  return {
    socket: r.stream,
    ready: r.status === "ready",
    busy: r.commandQueue.length !== 0 || r.offlineQueue.length !== 0,
    subscriber: Boolean(r.condition?.subscriber),
  };
}

/** The connection a cluster client keeps for a node (`host:port` as in its slot map). */
export function clusterConnection(cluster: Cluster, key: string): Redis | undefined {
  const pool = (cluster as unknown as { connectionPool?: { getInstanceByKey?(key: string): Redis | undefined } }).connectionPool;
  if (typeof pool?.getInstanceByKey !== "function") return undefined;
  return pool.getInstanceByKey(key);
}

/**
 * On a closed connection, fails the commands ioredis had written and not seen answered
 * (its `prevCommandQueue`) with the error it gives such commands in a pipeline, instead of
 * sending them again after the reconnect: their bytes may have reached the server, and at
 * most once means never sending them twice. The client is created with
 * `autoResendUnfulfilledCommands: false`; without this hook those commands would fail only
 * at their `commandTimeout`.
 */
export function abortUnfulfilledOnClose(redis: Redis, makeError: (command: { name?: string; args?: unknown[] }) => Error): void {
  // ioredis emits "close" on the tick after its close handler moved the queue aside.
  redis.on("close", () => {
    const r = redis as unknown as RedisPrivate;
    const queue = r.prevCommandQueue;
    if (queue === null || queue === undefined || !isQueue(queue) || typeof queue.shift !== "function") return;
    r.prevCommandQueue = null;
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      const command = item.command;
      if (typeof command?.reject === "function") command.reject(makeError(command));
    }
  });
}
