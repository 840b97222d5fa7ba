/**
 * Error classes both client forms throw, so one `instanceof` check serves async and sync.
 * (The sync facade's own classes live in sync/errors.ts.)
 */

/** A command (or the sync facade's start-up) got no reply within its bound (`commandTimeoutMs`). */
export class CommandTimeoutError extends Error {
  override get name(): string {
    return "CommandTimeoutError";
  }
}

/** What ioredis's own `commandTimeout` rejects with: a plain Error with just this message. */
export const IOREDIS_TIMEOUT_MESSAGE = "Command timed out";

/** The message both forms give a command that got no reply within commandTimeoutMs. */
export function commandTimeoutMessage(commandName: string | undefined, commandTimeoutMs: number): string {
  const what = commandName === undefined || commandName === "" ? "the command" : commandName.toUpperCase();
  return `${IOREDIS_TIMEOUT_MESSAGE}: ${what} got no reply within ${commandTimeoutMs} ms (commandTimeoutMs)`;
}
