/**
 * Makes command errors say what they mean, for every command of a connector-built client:
 * - ioredis's `commandTimeout` rejects with a bare `Error("Command timed out")`; it becomes
 *   a CommandTimeoutError naming the command, the same class the sync facade throws;
 * - a standalone client pointed at a cluster node gets `MOVED <slot> <addr>`; the error
 *   keeps that text (ioredis-style parsers read its first words) and adds the fix;
 * - Redis 5 answers `AUTH <username> <password>` with an arity error, which ioredis only
 *   logs (console.warn) before every later command fails with NOAUTH; reworded, it names
 *   REDIS_USERNAME and ioredis reports it as the connection error it is.
 * Hooked on the connection (`sendCommand` of the Redis instance, or of each cluster node),
 * where ioredis arms the timeout: only the error path does any work.
 */
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import { CommandTimeoutError, IOREDIS_TIMEOUT_MESSAGE, commandTimeoutMessage } from "../errors";
import { AUTH_WITH_USERNAME_ON_REDIS5, USERNAME_WITHOUT_ACL } from "./connectionErrors";

// redis-errors ships no types; AbortError is the class ioredis aborts commands with.
const { AbortError } = require("redis-errors") as { AbortError: new (message: string) => Error };

/**
 * What ioredis rejects an unanswered command of a closed connection with (event_handler.ts's
 * abortError): the command may or may not have run. AUTH/HELLO arguments are left out.
 */
export function abortedByConnectionClose(command: { name?: string; args?: unknown[] }): Error {
  const name = command.name ?? "";
  const args = /^(auth|hello)$/i.test(name) ? ["[redacted]"] : command.args;
  return Object.assign(new AbortError("Command aborted due to connection close"), { command: { name, args } });
}

interface CommandLike {
  name: string;
  reject: (error: Error) => void;
}

const TRANSLATED = Symbol("connector.commandErrorsTranslated");

/** The hint added to MOVED/ASK errors of a standalone client. */
export const STANDALONE_MOVED_HINT =
  "(this server is a Redis Cluster node: set REDIS_TOPOLOGY=cluster and list the nodes in REDIS_CLUSTER_NODES)";

/** The error the caller of command `commandName` gets instead of `error` (may be `error` itself, reworded). */
export function translateCommandError(error: Error, commandName: string, commandTimeoutMs: number, standalone: boolean): Error {
  if (error.message === IOREDIS_TIMEOUT_MESSAGE && Object.getPrototypeOf(error) === Error.prototype) {
    const timeout = new CommandTimeoutError(commandTimeoutMessage(commandName, commandTimeoutMs));
    return Object.assign(timeout, { command: { name: commandName } });
  }
  if (commandName.toLowerCase() === "auth" && error.message.includes(AUTH_WITH_USERNAME_ON_REDIS5)) {
    error.message = USERNAME_WITHOUT_ACL;
    return error;
  }
  if (standalone && /^(MOVED|ASK) \d+ /.test(error.message) && !error.message.includes(STANDALONE_MOVED_HINT)) {
    error.message = `${error.message} ${STANDALONE_MOVED_HINT}`;
  }
  return error;
}

function hookConnection(redis: Redis, commandTimeoutMs: number, standalone: boolean, onTimeout?: () => void): void {
  const marked = redis as Redis & { [TRANSLATED]?: true };
  if (marked[TRANSLATED] === true) return;
  marked[TRANSLATED] = true;
  const send = redis.sendCommand;
  Object.defineProperty(redis, "sendCommand", {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function (this: Redis, command: CommandLike, ...rest: unknown[]): unknown {
      const tagged = command as CommandLike & { [TRANSLATED]?: true };
      if (tagged[TRANSLATED] !== true) {
        tagged[TRANSLATED] = true;
        const reject = command.reject;
        command.reject = (error: Error) => {
          const translated = translateCommandError(error, command.name, commandTimeoutMs, standalone);
          if (translated instanceof CommandTimeoutError) onTimeout?.();
          reject(translated);
        };
      }
      return (send as (...args: unknown[]) => unknown).call(this, command, ...rest);
    },
  });
}

/** Installs the translation on a standalone client, or on every node of a cluster (present and future). */
export function translateCommandErrors(client: Redis | Cluster, commandTimeoutMs: number, standalone: boolean): void {
  if (standalone) {
    hookConnection(client as Redis, commandTimeoutMs, true);
    return;
  }
  const cluster = client as Cluster;
  // A node that stops answering without closing its connection (host or link lost) gives no
  // MOVED and no close, so ioredis would keep routing its slots to it until the periodic slot
  // refresh (up to 5 s after the promotion). A timeout starts a refresh now;
  // ioredis coalesces it with one already running.
  const refresh = (): void => {
    cluster.refreshSlotsCache();
  };
  for (const node of cluster.nodes("all")) hookConnection(node, commandTimeoutMs, false, refresh);
  cluster.on("+node", (node: Redis) => hookConnection(node, commandTimeoutMs, false, refresh));
}
