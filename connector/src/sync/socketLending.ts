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
import { fstatSync } from "fs";
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import type { Socket } from "net";
import { clusterConnection, connectionState, warnInternalsChanged } from "../client/ioredisInternals";
import { LEND_COUNT, LEND_FD, LEND_MAP_STALE, LEND_POISONED, LEND_REFRESH_WANTED, MAX_LANES, SLOT_COUNT } from "./protocol";
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

export class SocketLender {
  private lent: Lent[] = [];
  /** The master (`host:port`) of each slot when the slot table was written. */
  private readonly lentOwners: Array<string | undefined> = [];

  constructor(
    private readonly client: Redis | Cluster,
    private readonly lendArea: Int32Array,
    private readonly slotTable: Int16Array,
    private readonly socketIds: Float64Array,
    private readonly standalone: boolean,
  ) {
    if (!standalone) {
      // A slot refresh (periodic, or after MOVED / a lane timeout) that moved a slot while
      // sockets are lent: the caller's table is out of date, so it stops using it at once.
      (client as Cluster).on("refresh", () => this.checkSlotOwners());
    }
  }

  /**
   * Takes every lent socket back; drops the ones the caller left unusable. Returns, for each
   * socket it closed, a promise of its `close` event: ioredis learns of the close only then,
   * and a command sent before that would be written to the dead socket (and then aborted as
   * possibly run, although it never left this process).
   */
  reclaim(): Array<Promise<void>> {
    const closed: Array<Promise<void>> = [];
    if (!this.standalone && Atomics.exchange(this.lendArea, LEND_REFRESH_WANTED, 0) !== 0) {
      // A lane timed out on a node: it may be hung while its replica takes over.
      (this.client as Cluster).refreshSlotsCache();
    }
    const lent = this.lent;
    if (lent.length === 0) return closed;
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
      // (and fails the commands it wrote meanwhile, as for any lost connection).
      if (poisoned) {
        // Listening before destroy(): libuv reports the close on a later turn of the loop.
        closed.push(new Promise((resolve) => l.socket.once("close", () => resolve())));
        l.socket.destroy();
        continue;
      }
      resumeReading(l.handle);
      for (const args of l.writes) (l.write as (...a: unknown[]) => boolean).apply(l.socket, args);
      l.deferred?.();
    }
    Atomics.store(this.lendArea, LEND_COUNT, 0);
    return closed;
  }

  /** Lends what can be lent now (the lend area says what); called right before an answer. */
  lend(): void {
    this.reclaim();
    Atomics.store(this.lendArea, LEND_COUNT, 0);
    Atomics.store(this.lendArea, LEND_MAP_STALE, 0);
    if (this.standalone) {
      const lane = this.lendNode(this.client as Redis);
      if (lane === 0) Atomics.store(this.lendArea, LEND_COUNT, 1);
      return;
    }
    const cluster = this.client as Cluster;
    if (cluster.status !== "ready") return;
    const lanes = new Map<string, number>();
    const table = this.slotTable;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const key = cluster.slots[slot]?.[0];
      this.lentOwners[slot] = key;
      let lane = -1;
      if (key !== undefined) {
        const known = lanes.get(key);
        if (known !== undefined) lane = known;
        else {
          const node = clusterConnection(cluster, key);
          lane = node === undefined ? -1 : this.lendNode(node);
          lanes.set(key, lane);
        }
      }
      table[slot] = lane;
    }
    Atomics.store(this.lendArea, LEND_COUNT, this.lent.length);
  }

  private checkSlotOwners(): void {
    if (this.lent.length === 0) return;
    const slots = (this.client as Cluster).slots;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (slots[slot]?.[0] !== this.lentOwners[slot]) {
        Atomics.store(this.lendArea, LEND_MAP_STALE, 1);
        return;
      }
    }
  }

  /** Lends one connection if it is ready and idle; returns its lane, or -1. */
  private lendNode(node: Redis): number {
    if (this.lent.length >= MAX_LANES) return -1;
    const state = connectionState(node);
    if (state === undefined) warnInternalsChanged("a connection's queues");
    const socket = state?.socket;
    if (state === undefined || socket === undefined || !state.ready || state.busy || state.subscriber) return -1;
    if (socket.destroyed || !socket.writable || socket.writableLength !== 0 || socket.readableLength !== 0) return -1;
    if ((socket as Socket & { encrypted?: boolean }).encrypted) return -1;
    const handle = usableHandle(socket);
    if (handle === undefined) return -1;
    let socketId: number;
    try {
      const stat = fstatSync(handle.fd);
      if (!stat.isSocket()) return -1;
      socketId = stat.ino;
    } catch {
      return -1;
    }
    if (!pauseReading(handle)) return -1;
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
    this.socketIds[lane] = socketId;
    Atomics.store(this.lendArea, LEND_FD + lane, handle.fd);
    Atomics.store(this.lendArea, LEND_POISONED + lane, 0);
    return lane;
  }
}
