/**
 * The worker's side of the fast lane (README.md, "Fast lane"): after each answer it lends
 * the idle, ready connections' sockets to the calling thread (reading stopped, fds written
 * to the lend area), and takes them back before it runs the next request.
 *
 * While a socket is lent the worker must neither read nor write it and must not close it
 * (the fd number could be reused by another socket while the caller writes to it): its
 * `write`, `destroy` and `end` are deferred until the socket is taken back. ioredis does write
 * on its own to an idle connection: a slot refresh that finds a master demoted sends READONLY
 * on that node's connection; sent at once, its reply would reach the caller as its own.
 */
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import type { Socket } from "net";
import { LEND_COUNT, LEND_FD, LEND_POISONED, MAX_LANES, SLOT_COUNT } from "./protocol";
import { pauseReading, resumeReading, usableHandle, type SocketHandle } from "./socketHandle";

interface Lent {
  socket: Socket;
  handle: SocketHandle;
  write: Socket["write"];
  destroy: Socket["destroy"];
  end: Socket["end"];
  /** What ioredis wrote while the socket was lent, in order: sent once it is back. */
  writes: unknown[][];
  deferred: (() => void) | undefined;
}

interface RedisInternals {
  stream?: Socket;
  status: string;
  commandQueue: { length: number };
  offlineQueue: { length: number };
  condition?: { subscriber?: unknown } | null;
}

interface ClusterInternals {
  connectionPool: { getInstanceByKey(key: string): Redis | undefined };
}

export class SocketLender {
  private lent: Lent[] = [];

  constructor(
    private readonly client: Redis | Cluster,
    private readonly lendArea: Int32Array,
    private readonly slotTable: Int16Array,
    private readonly standalone: boolean,
  ) {}

  /** Takes every lent socket back; the caller asked for the ones it left unusable to be dropped. */
  reclaim(): void {
    const lent = this.lent;
    if (lent.length === 0) return;
    this.lent = [];
    for (let lane = 0; lane < lent.length; lane++) {
      const l = lent[lane];
      const poisoned = Atomics.load(this.lendArea, LEND_POISONED + lane) !== 0;
      Atomics.store(this.lendArea, LEND_POISONED + lane, 0);
      l.socket.write = l.write;
      l.socket.destroy = l.destroy;
      l.socket.end = l.end;
      if (l.socket.destroyed) continue;
      // The caller left a half-written command or unread replies on it: ioredis reconnects
      // (and handles the commands it wrote meanwhile as for any lost connection).
      if (poisoned) {
        l.socket.destroy();
        continue;
      }
      resumeReading(l.handle);
      for (const args of l.writes) (l.write as (...a: unknown[]) => boolean).apply(l.socket, args);
      l.deferred?.();
    }
    Atomics.store(this.lendArea, LEND_COUNT, 0);
  }

  /** Lends what can be lent now (the lend area says what); called right before an answer. */
  lend(): void {
    this.reclaim();
    Atomics.store(this.lendArea, LEND_COUNT, 0);
    if (this.standalone) {
      const lane = this.lendNode(this.client as Redis);
      if (lane === 0) Atomics.store(this.lendArea, LEND_COUNT, 1);
      return;
    }
    const cluster = this.client as Cluster;
    if (cluster.status !== "ready") return;
    const pool = (cluster as unknown as ClusterInternals).connectionPool;
    const lanes = new Map<string, number>();
    const table = this.slotTable;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const key = cluster.slots[slot]?.[0];
      let lane = -1;
      if (key !== undefined) {
        const known = lanes.get(key);
        if (known !== undefined) lane = known;
        else {
          const node = pool.getInstanceByKey(key);
          lane = node === undefined ? -1 : this.lendNode(node);
          lanes.set(key, lane);
        }
      }
      table[slot] = lane;
    }
    Atomics.store(this.lendArea, LEND_COUNT, this.lent.length);
  }

  /** Lends one connection if it is ready and idle; returns its lane, or -1. */
  private lendNode(node: Redis): number {
    if (this.lent.length >= MAX_LANES) return -1;
    const redis = node as unknown as RedisInternals;
    const socket = redis.stream;
    if (redis.status !== "ready" || socket === undefined || redis.condition?.subscriber) return -1;
    if (redis.commandQueue.length !== 0 || redis.offlineQueue.length !== 0) return -1;
    if (socket.destroyed || !socket.writable || socket.writableLength !== 0 || socket.readableLength !== 0) return -1;
    if ((socket as Socket & { encrypted?: boolean }).encrypted) return -1;
    const handle = usableHandle(socket);
    if (handle === undefined || !pauseReading(handle)) return -1;
    const lane = this.lent.length;
    const entry: Lent = {
      socket,
      handle,
      write: socket.write,
      destroy: socket.destroy,
      end: socket.end,
      writes: [],
      deferred: undefined,
    };
    socket.write = function (this: Socket, ...args: unknown[]) {
      entry.writes.push(args);
      return true;
    } as Socket["write"];
    socket.destroy = function (this: Socket, ...args: Parameters<Socket["destroy"]>) {
      entry.deferred ??= () => entry.destroy.apply(socket, args);
      return this;
    };
    socket.end = function (this: Socket, ...args: unknown[]) {
      entry.deferred ??= () => (entry.end as (...a: unknown[]) => unknown).apply(socket, args);
      return this;
    } as Socket["end"];
    this.lent.push(entry);
    Atomics.store(this.lendArea, LEND_FD + lane, handle.fd);
    Atomics.store(this.lendArea, LEND_POISONED + lane, 0);
    return lane;
  }
}
