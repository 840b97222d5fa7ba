/**
 * Works around an ioredis 5 behaviour for cluster pipelines: when one command of a pipeline
 * gets ASK (its slot is migrating) and the rest are read-only, ioredis sends the whole
 * pipeline again to the ASK target, where commands for the pipeline's other slots get MOVED;
 * a `[GET a, GET b]` with only `a` migrating thus answers b with a MOVED error although b
 * exists. A MOVED or ASK reply means the server did not run the command, so the sync client
 * runs each such read-only command again on its own (ioredis follows a single command's
 * redirection), on both of its paths. Writes keep their MOVED result: running them after
 * the rest of the pipeline would change the order the caller asked for.
 */
import { exists as commandExists, hasFlag } from "@ioredis/commands";
import { METHOD_NAMES, isCallMethod } from "./commands";
import type { Topology } from "../config/types";
import type { BatchEntry } from "./protocol";

const REDIRECTED = /^(MOVED|ASK) /;

/** The indexes of `results` that a redirection answered for a read-only command (cluster pipelines only). */
export function redirectedReads(topology: Topology, entries: readonly BatchEntry[], results: unknown): number[] {
  if (topology !== "cluster" || !Array.isArray(results) || results.length !== entries.length) return [];
  const found: number[] = [];
  for (let i = 0; i < entries.length; i++) {
    const error = (results[i] as [unknown, unknown?] | undefined)?.[0];
    if (!(error instanceof Error) || !REDIRECTED.test(error.message)) continue;
    if (isReadOnly(entries[i])) found.push(i);
  }
  return found;
}

function isReadOnly([method, args]: BatchEntry): boolean {
  let name = METHOD_NAMES[method].replace(/Buffer$/, "");
  if (isCallMethod(method)) {
    if (typeof args[0] !== "string") return false;
    name = args[0];
  }
  return commandExists(name, { caseInsensitive: true }) && hasFlag(name, "readonly", { nameCaseInsensitive: true });
}
