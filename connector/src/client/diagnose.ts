/**
 * Why a client got nowhere although no error was reported: one bounded look at the
 * server's port with a raw socket. Tells apart nothing listening, a plain Redis when TLS
 * is on, a TLS server when TLS is off, and a peer that is not Redis at all.
 */
import { connect as netConnect, type Socket } from "node:net";
import { formatEndpoint, type Endpoint } from "../endpoint";

/** An inline PING: every Redis version answers it (with PONG, or NOAUTH when a password is required). */
const PING = "PING\r\n";
/** TLS record types a TLS server answers non-TLS bytes with (alert) or greets with (handshake). */
const TLS_ALERT = 0x15;
const TLS_HANDSHAKE = 0x16;

function printable(bytes: Buffer): string {
  return bytes.subarray(0, 24).toString("latin1").replace(/[^\x20-\x7e]/g, ".");
}

/**
 * Looks at `endpoint` over plain TCP (bounded by `timeoutMs`) and returns a sentence saying
 * what is wrong for a client configured with `tls`, or undefined when it looks like a
 * reachable Redis that speaks what the client speaks (nothing to add).
 */
export function diagnoseEndpoint(endpoint: Endpoint, tls: boolean, timeoutMs: number): Promise<string | undefined> {
  const where = formatEndpoint(endpoint);
  const tlsFix = "set REDIS_TLS=true if the server expects TLS";
  return new Promise((resolve) => {
    const socket: Socket = netConnect({ host: endpoint.host, port: endpoint.port });
    let received = Buffer.alloc(0);
    let connected = false;
    const finish = (verdict: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(verdict);
    };
    const timer = setTimeout(() => {
      if (!connected) finish(`nothing answered at ${where} within ${timeoutMs} ms (host unreachable or port filtered)`);
      else if (tls) finish(undefined);
      else finish(`${where} accepts connections but does not answer like a Redis server (no reply to PING); ${tlsFix}, or check the host and port`);
    }, timeoutMs);
    socket.once("connect", () => {
      connected = true;
      socket.write(PING);
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const first = received[0];
      if (first === TLS_ALERT || first === TLS_HANDSHAKE) {
        finish(tls ? undefined : `${where} speaks TLS, not plain Redis: ${tlsFix}`);
        return;
      }
      const lineEnd = received.indexOf("\r\n");
      if (lineEnd < 0 && received.length < 64) return;
      const line = received.subarray(0, lineEnd < 0 ? received.length : lineEnd).toString("latin1");
      if (/^(\+PONG|-NOAUTH|-ERR|-WRONGPASS|-LOADING|-MASTERDOWN|-DENIED)/.test(line)) {
        finish(tls ? `${where} is a plain (non-TLS) Redis server, but REDIS_TLS is true: set REDIS_TLS=false` : undefined);
      } else {
        finish(`${where} is not a Redis server: it answered PING with "${printable(received)}"; check the host and port`);
      }
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      finish(connected ? undefined : `cannot connect to ${where}: ${error.code ?? error.message}`);
    });
    socket.on("close", () => {
      if (!connected) return;
      finish(tls ? undefined : `${where} closed the connection without a Redis reply: it may expect TLS (${tlsFix}), or is not Redis`);
    });
  });
}

/** Start the diagnosis after this share of a connect wait without progress. */
const DIAGNOSE_AFTER_SHARE = 0.4;

/**
 * Runs `diagnoseEndpoint` on the target's first endpoint once 40% of `waitMs` has passed,
 * bounded to finish within the wait; returns the timer (clear it when the wait ends).
 */
export function scheduleDiagnosis(
  target: { endpoints: Endpoint[]; tls: boolean } | undefined,
  waitMs: number,
  onVerdict: (verdict: string | undefined) => void,
): NodeJS.Timeout {
  const startAfter = Math.floor(waitMs * DIAGNOSE_AFTER_SHARE);
  const timer = setTimeout(() => {
    if (target === undefined || target.endpoints.length === 0) return;
    const bound = waitMs - startAfter - 50;
    if (bound <= 0) return;
    diagnoseEndpoint(target.endpoints[0], target.tls, bound).then(onVerdict, () => undefined);
  }, startAfter);
  timer.unref();
  return timer;
}
