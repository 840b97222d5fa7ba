/**
 * The sync facade's own error classes (exported by the package), and its timeout when the
 * worker thread does not answer at all. Errors that cross the thread boundary are rebuilt
 * in errorRevival.ts.
 */
import { CommandTimeoutError, IOREDIS_TIMEOUT_MESSAGE } from "../errors";

/** The client could not connect (or authenticate) within `connectTimeoutMs`. */
export class SyncConnectError extends Error {
  override get name(): string {
    return "SyncConnectError";
  }
}

/** The client was closed, or its worker thread stopped; create a new one. */
export class SyncClientClosedError extends Error {
  override get name(): string {
    return "SyncClientClosedError";
  }
}

/**
 * EXEC was not sent: the connection that held WATCH closed, and the transaction would have
 * run unwatched on a new one. The transaction did not run; WATCH again and retry.
 */
export class WatchLostError extends Error {
  override get name(): string {
    return "WatchLostError";
  }
}

/** The facade's own bound expired: the worker did not answer at all. */
export function facadeTimeout(what: string, boundMs: number): CommandTimeoutError {
  return new CommandTimeoutError(
    `${IOREDIS_TIMEOUT_MESSAGE}: ${what} got no reply within ${boundMs} ms ` +
      "(commandTimeoutMs plus margin); the server or the client's worker thread is not answering",
  );
}
