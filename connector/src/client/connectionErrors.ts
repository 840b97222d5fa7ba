/** Reading connection errors: which ones no retry can cure, and a hint for each usual cause. */

/** Redis 5's answer to `AUTH <username> <password>` (it knows only `AUTH <password>`). */
export const AUTH_WITH_USERNAME_ON_REDIS5 = "wrong number of arguments for 'auth' command";
/** What the connector makes of that answer (see commandErrors.ts). */
export const USERNAME_WITHOUT_ACL =
  "ERR the server refused AUTH with a username: it has no ACL users (Redis < 6, e.g. 5.0.4); leave REDIS_USERNAME empty";
const CLUSTER_SUPPORT_DISABLED = "cluster support disabled";

/** Redis refused the credentials (Redis 5 and 6+ wordings), or wants some. */
export function isAuthFailure(error: Error): boolean {
  return /WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH failed|no ACL users/i.test(error.message) ||
    error.message.includes(AUTH_WITH_USERNAME_ON_REDIS5);
}

/** The server refused `SELECT <REDIS_DB>` (index beyond its `databases`). */
export function isSelectRefusal(error: Error): boolean {
  const command = (error as Error & { command?: { name?: unknown } }).command;
  return typeof command?.name === "string" && command.name.toLowerCase() === "select";
}

/** A seed that is not a cluster node: waiting or retrying cannot change that. */
export function isClusterSupportDisabled(error: Error): boolean {
  return messageWithNodeError(error).includes(CLUSTER_SUPPORT_DISABLED);
}

/** Errors no retry can cure: a connect wait may give up on them at once. */
export function isFinalStartupError(error: Error): boolean {
  return isAuthFailure(messageError(error)) || isSelectRefusal(error) || isClusterSupportDisabled(error);
}

function messageWithNodeError(error: Error): string {
  const nodeError = (error as Error & { lastNodeError?: Error }).lastNodeError;
  return nodeError !== undefined ? `${error.message} (last node error: ${nodeError.message})` : error.message;
}

function messageError(error: Error): Error {
  return { name: error.name, message: messageWithNodeError(error) };
}

/** A short, secret-free account of a connection error, with hints for the usual causes. */
export function explainConnectionError(error: Error): string {
  const message = messageWithNodeError(error);
  if (isSelectRefusal(error)) {
    if (/cluster mode/i.test(message)) {
      return `${message}: this server is a Redis Cluster node, which has only database 0; ` +
        "set REDIS_TOPOLOGY=cluster (and leave REDIS_DB at 0)";
    }
    return `${message}: the server refused the database index (env REDIS_DB, setting standalone.db); ` +
      "it must be below the server's `databases` setting (16 by default)";
  }
  if (message.includes(CLUSTER_SUPPORT_DISABLED)) {
    return `${message}: a seed node is a standalone server, not a cluster node; ` +
      "use REDIS_TOPOLOGY=standalone for it, or list cluster nodes in REDIS_CLUSTER_NODES";
  }
  if (message.includes(AUTH_WITH_USERNAME_ON_REDIS5) || /no ACL users/.test(message)) {
    return /leave REDIS_USERNAME empty/.test(message) ? message
      : `${message}: the server has no ACL users (Redis < 6); leave REDIS_USERNAME empty`;
  }
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return `${message}: check REDIS_PASSWORD (and REDIS_USERNAME)`;
  }
  if (/NOAUTH/.test(message)) return `${message}: the server needs a password; set REDIS_PASSWORD`;
  return message;
}

/** Errors that say that something failed but not why: a diagnosis goes first. */
const VAGUE_ERROR = /ETIMEDOUT|got no reply|Connection is closed|Failed to refresh slots cache|ECONNRESET|socket hang up/;

/** The cause part of a "could not connect" message: the explained last error and/or the port diagnosis. */
export function connectionFailureText(lastError: Error | undefined, diagnosis: string | undefined): string {
  if (lastError === undefined) return diagnosis ?? "no error reported";
  const explained = explainConnectionError(lastError);
  return diagnosis !== undefined && VAGUE_ERROR.test(explained) ? `${diagnosis} (last error: ${explained})` : explained;
}
