/**
 * The blocking client's face: `SyncRedisClient` and its batches, one method per ioredis
 * method (derived from the command list), each a call on the worker channel (workerChannel.ts).
 */
import { inspect } from "util";
import type { ConnectorConfig } from "../config/types";
import { METHOD_CALL, METHOD_INDEX, METHOD_NAMES, REFUSED_COMMANDS, commandNameText, isCallMethod, refuseUnservable, subscriberModeRefused } from "./commands";
import { BATCH_MULTI, BATCH_PIPELINE, type BatchEntry, type BatchKind } from "./protocol";
import type { BatchCommand, BatchReply, SyncBatch, SyncRedisClient } from "./types";
import { WorkerChannel } from "./workerChannel";

/** How the sync client runs its calls. */
export interface SyncClientOptions {
  /**
   * Run commands and pipelines on the calling thread, on the sockets the worker lends it
   * (default true; README.md, "Fast lane"). false: every call goes through the worker thread.
   */
  fastLane?: boolean;
}

/** Throws if the last argument is a callback: a blocking call has nothing to call back. */
function rejectCallback(name: string, args: unknown[]): void {
  if (args.length > 0 && typeof args[args.length - 1] === "function") {
    throw new TypeError(`The sync Redis client's ${name}() returns its reply; it takes no callback.`);
  }
}

/** Runtime shape behind the SyncRedisClient type; its command methods are added below. */
class SyncClient {
  /** @internal */
  readonly channel: WorkerChannel;
  readonly topology: ConnectorConfig["topology"];

  constructor(config: ConnectorConfig, options: SyncClientOptions) {
    this.topology = config.topology;
    this.channel = new WorkerChannel(config, options.fastLane !== false);
  }

  get closed(): boolean {
    return this.channel.closed;
  }

  /**
   * Printed or serialized (console.log, JSON loggers), the client shows what it is, never its
   * channel: the worker's start data holds the config, the shared request area the last
   * request's bytes (AUTH's arguments too), and its buffers run to megabytes.
   */
  toJSON(): { client: "SyncRedisClient"; topology: ConnectorConfig["topology"]; closed: boolean } {
    return { client: "SyncRedisClient", topology: this.topology, closed: this.closed };
  }

  [inspect.custom](): string {
    return `SyncRedisClient { topology: ${JSON.stringify(this.topology)}, closed: ${String(this.closed)} }`;
  }

  pipeline(commands?: BatchCommand[]): SyncBatch {
    return newBatch(this.channel, BATCH_PIPELINE, commands);
  }

  multi(commands?: BatchCommand[]): SyncBatch {
    return newBatch(this.channel, BATCH_MULTI, commands);
  }

  close(): void {
    this.channel.close(true);
  }

  quit(): "OK" {
    this.channel.close(true);
    return "OK";
  }

  disconnect(): void {
    this.channel.close(false);
  }
}

class Batch {
  readonly entries: BatchEntry[] = [];
  constructor(
    private readonly channel: WorkerChannel,
    private readonly kind: BatchKind,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  exec(): BatchReply | null {
    try {
      return this.channel.batch(this.kind, this.entries) as BatchReply | null;
    } catch (error) {
      throw withCallerStack(error, Batch.prototype.exec);
    }
  }
}

function newBatch(channel: WorkerChannel, kind: BatchKind, commands: BatchCommand[] | undefined): SyncBatch {
  const batch = new Batch(channel, kind);
  for (const [given, ...args] of commands ?? []) {
    const command = commandNameText(given);
    refuseUnservable(command, args);
    const method = typeof command === "string" ? METHOD_INDEX.get(command.toLowerCase()) : undefined;
    if (method === undefined || isCallMethod(method)) {
      batch.entries.push([METHOD_CALL, [command, ...args]]);
    } else {
      batch.entries.push([method, args]);
    }
  }
  return batch as unknown as SyncBatch;
}

/**
 * An error from the worker carries the worker's stack (ioredis internals, another thread):
 * it gets the caller's frames instead, from the call into the client (`entry`) upwards.
 */
function withCallerStack(error: unknown, entry: (...args: never[]) => unknown): unknown {
  if (error instanceof Error) Error.captureStackTrace(error, entry);
  return error;
}

// One prototype method per ioredis method, generated from the derived list.
METHOD_NAMES.forEach((name, index) => {
  const isCall = isCallMethod(index);
  const commandName = name.replace(/Buffer$/, "");
  /** The arguments as sent: a command name given as bytes is read as text; refusals apply. */
  const checked = (args: unknown[]): unknown[] => {
    if (isCall) {
      if (args.length > 0) args = [commandNameText(args[0]), ...args.slice(1)];
      refuseUnservable(args[0], args.slice(1));
    } else if (commandName === "client") {
      refuseUnservable(commandName, args);
    }
    return args;
  };
  const method = function (this: SyncClient, ...args: unknown[]): unknown {
    rejectCallback(name, args);
    args = checked(args);
    try {
      return this.channel.command(index, args);
    } catch (error) {
      throw withCallerStack(error, method);
    }
  };
  Object.defineProperty(SyncClient.prototype, name, {
    configurable: true,
    writable: true,
    value: method,
  });
  Object.defineProperty(Batch.prototype, name, {
    configurable: true,
    writable: true,
    value: function (this: Batch, ...args: unknown[]): Batch {
      rejectCallback(name, args);
      this.entries.push([index, checked(args)]);
      return this;
    },
  });
});
for (const refused of REFUSED_COMMANDS) {
  for (const name of [refused, `${refused}Buffer`]) {
    const refuse = (): never => {
      throw subscriberModeRefused(refused);
    };
    Object.defineProperty(SyncClient.prototype, name, { configurable: true, writable: true, value: refuse });
    Object.defineProperty(Batch.prototype, name, { configurable: true, writable: true, value: refuse });
  }
}

/**
 * Creates a blocking Redis client for `config` (standalone or cluster; `config.form`
 * is not consulted). Returns once the worker thread runs and the client is ready
 * (cluster: slots loaded), or throws SyncConnectError within
 * connectTimeoutMs (+ worker start-up): unreachable host, wrong port, wrong password
 * (the latter as soon as Redis refuses it).
 *
 * Call close() when done. Forgetting it does not keep the process alive: the worker
 * is unref'd and ends with the process (without sending QUIT).
 */
export function createSyncClient(config: ConnectorConfig, options: SyncClientOptions = {}): SyncRedisClient {
  checkBounds(config);
  try {
    return new SyncClient(config, options) as unknown as SyncRedisClient;
  } catch (error) {
    throw withCallerStack(error, createSyncClient);
  }
}

/**
 * How many calls the fast lane answered on `client` (each one a reply, a reply error, its
 * timeout or a lost connection; a call it handed to the worker thread does not count): 0
 * without the lane. For tests and the bench, through the package's internal entry
 * (`@redis-on-docker/connector/dist/testing`), not its public API.
 */
export function fastLaneCalls(client: SyncRedisClient): number {
  if (!(client instanceof SyncClient)) throw new TypeError("fastLaneCalls: not a client made by createSyncClient");
  return client.channel.fastLaneCalls;
}

/**
 * Ends the client's worker thread as a crash would (no close(), no QUIT): for fault tests,
 * through the package's internal entry.
 */
export function terminateWorker(client: SyncRedisClient): Promise<number> {
  if (!(client instanceof SyncClient)) throw new TypeError("terminateWorker: not a client made by createSyncClient");
  return client.channel.terminateWorker();
}

/** The bounds every blocking wait is built on; `loadConfig` guarantees them, hand-made configs may not. */
function checkBounds(config: ConnectorConfig): void {
  for (const [key, env] of [
    ["commandTimeoutMs", "REDIS_COMMAND_TIMEOUT_MS"],
    ["connectTimeoutMs", "REDIS_CONNECT_TIMEOUT_MS"],
  ] as const) {
    const value = config[key];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 1) {
      throw new TypeError(
        `createSyncClient: ${key} (env ${env}) must be a positive number of milliseconds, got ${String(value)}`,
      );
    }
  }
}
