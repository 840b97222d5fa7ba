/**
 * The one place that touches Node internals for the fast lane (README.md, "Fast lane"):
 * a connected TCP `net.Socket`'s libuv handle, its file descriptor (`_handle.fd`) and its
 * `readStop()` / `readStart()`. They are not public API; `usableHandle` checks their shape
 * and answers undefined when a Node version changes it, and the client then keeps every
 * call on the worker path. test/connector/syncSocketHandle.test.ts pins them.
 */
import type { Socket } from "net";

/** What the fast lane needs of a socket's libuv handle. */
export interface SocketHandle {
  fd: number;
  reading: boolean;
  readStop(): number;
  readStart(): number;
}

/** The socket's handle if it has the expected shape (a TCP stream on a real fd), else undefined. */
export function usableHandle(socket: Socket | undefined): SocketHandle | undefined {
  const handle = (socket as unknown as { _handle?: Partial<SocketHandle> } | undefined)?._handle;
  if (handle === undefined || handle === null) return undefined;
  if (typeof handle.fd !== "number" || !Number.isInteger(handle.fd) || handle.fd < 0) return undefined;
  if (typeof handle.readStop !== "function" || typeof handle.readStart !== "function") return undefined;
  if (typeof handle.reading !== "boolean") return undefined;
  return handle as SocketHandle;
}

/** Stops libuv reading the socket (its bytes stay in the kernel for whoever reads the fd). */
export function pauseReading(handle: SocketHandle): boolean {
  handle.reading = false;
  return handle.readStop() === 0;
}

/** Hands the socket back to its event loop (as net.Socket's own tryReadStart does). */
export function resumeReading(handle: SocketHandle): void {
  handle.reading = true;
  handle.readStart();
}
