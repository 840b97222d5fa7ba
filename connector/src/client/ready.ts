/** Waiting, bounded, until an async client can serve commands; and explaining why it cannot. */
import { Cluster } from "ioredis";
import { clientTarget, lastConnectionError, type AsyncClient } from "./asyncClient";
import { connectionFailureText, isFinalStartupError } from "./connectionErrors";
import { scheduleDiagnosis } from "./diagnose";

export { explainConnectionError } from "./connectionErrors";

/** The client did not become ready in time, or gave up; `lastError` is the last connection error seen (secret-free). */
export class NotReadyError extends Error {
  override readonly name = "NotReadyError";
  constructor(message: string, readonly lastError: Error | undefined) {
    super(message);
  }
}


/**
 * Resolves once the client is ready (`ready` event: connected, authenticated, and for a
 * cluster, slots known); rejects with a NotReadyError after `timeoutMs`, as soon as the
 * client ends, or at once on an error no retry can cure (refused password, refused
 * REDIS_DB, a seed without cluster support), naming the target and the cause. When nothing
 * was reported, a bounded look at the server's port says why (TLS mismatch, not Redis...).
 */
export function waitUntilReady(client: AsyncClient, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  const target = clientTarget(client);
  const description = target?.description ?? (client instanceof Cluster ? "redis cluster" : `redis at ${client.options.host}:${client.options.port}`);
  return new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined = lastConnectionError(client);
    let diagnosis: string | undefined;
    const lastErrorText = (): string => connectionFailureText(lastError, diagnosis);
    const cleanup = (): void => {
      clearTimeout(timer);
      clearTimeout(diagnoseTimer);
      client.off("ready", onReady);
      client.off("error", onError);
      client.off("node error", onError);
      client.off("end", onEnd);
    };
    const fail = (what: string): void => {
      cleanup();
      reject(new NotReadyError(`${description} ${what}: ${lastErrorText()}`, lastError));
    };
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onError = (): void => {
      // The client's own record (secret-free; an AUTH refusal is not replaced by the NOAUTH after it).
      lastError = lastConnectionError(client);
      if (lastError !== undefined && isFinalStartupError(lastError)) fail("refused the connection");
    };
    const onEnd = (): void => fail("closed before it was ready");
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
    const diagnoseTimer = scheduleDiagnosis(target, timeoutMs, (verdict) => {
      diagnosis = verdict;
    });
    client.on("ready", onReady);
    client.on("error", onError);
    client.on("node error", onError);
    client.on("end", onEnd);
    if (client.status === "end") onEnd();
    else if (lastError !== undefined && isFinalStartupError(lastError)) fail("refused the connection");
  });
}
