/** Waiting, bounded, until an async client can serve commands. */
import { Cluster } from "ioredis";
import { lastConnectionError, type AsyncClient } from "./asyncClient";

/** The client did not become ready in time, or gave up; `lastError` is the last connection error seen. */
export class NotReadyError extends Error {
  override readonly name = "NotReadyError";
  constructor(message: string, readonly lastError: Error | undefined) {
    super(message);
  }
}

const AUTH_WITH_USERNAME_ON_REDIS5 = "wrong number of arguments for 'auth' command";

/** A short, secret-free account of a connection error, with hints for the usual causes. */
export function explainConnectionError(error: Error): string {
  const nodeError = (error as Error & { lastNodeError?: Error }).lastNodeError;
  const message = nodeError !== undefined ? `${error.message} (last node error: ${nodeError.message})` : error.message;
  if (message.includes(AUTH_WITH_USERNAME_ON_REDIS5)) {
    return `${message}: the server has no ACL users (Redis < 6); leave REDIS_USERNAME empty`;
  }
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return `${message}: check REDIS_PASSWORD (and REDIS_USERNAME)`;
  }
  if (/NOAUTH/.test(message)) return `${message}: the server needs a password; set REDIS_PASSWORD`;
  return message;
}

function describeTarget(client: AsyncClient): string {
  if (client instanceof Cluster) return "redis cluster";
  return `redis at ${client.options.host}:${client.options.port}`;
}

/**
 * Resolves once the client is ready (`ready` event: connected, authenticated, and for a
 * cluster, slots known); rejects with a NotReadyError after `timeoutMs`, or as soon as the
 * client ends, naming the last connection error.
 */
export function waitUntilReady(client: AsyncClient, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  const target = describeTarget(client);
  return new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined = lastConnectionError(client);
    const lastErrorText = (): string => (lastError === undefined ? "no error reported" : explainConnectionError(lastError));
    const cleanup = (): void => {
      clearTimeout(timer);
      client.off("ready", onReady);
      client.off("error", onError);
      client.off("node error", onError);
      client.off("end", onEnd);
    };
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: Error): void => {
      lastError = error;
    };
    const onEnd = (): void => {
      cleanup();
      reject(new NotReadyError(`${target} closed before it was ready: ${lastErrorText()}`, lastError));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new NotReadyError(`${target} not ready within ${timeoutMs} ms: ${lastErrorText()}`, lastError));
    }, timeoutMs);
    client.on("ready", onReady);
    client.on("error", onError);
    client.on("node error", onError);
    client.on("end", onEnd);
    if (client.status === "end") onEnd();
  });
}
