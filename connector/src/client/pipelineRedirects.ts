/**
 * Makes a cluster client learn a slot's new owner from any MOVED reply inside a pipeline or
 * MULTI result, as ioredis already does for single commands.
 *
 * Why: ioredis 5 re-sends a cluster pipeline only when every failed command failed alike and
 * every other command is read-only. A write-only `[SET k v, WAIT 1 ms]` after a failover gets
 * MOVED for the SET and a reply for the WAIT, so ioredis returns the MOVED as a result and keeps
 * its stale slot map: every later pipeline for those slots fails the same way until the
 * periodic slot refresh (seen: 2.4-3.6 s after the promotion). Here each such MOVED points the
 * slot at its new owner at once and starts a slot refresh for the rest of the map.
 */
import { Cluster, Pipeline } from "ioredis";
import type { AnnouncedToHostKey } from "../endpoint";

const MOVED = /^MOVED (\d+) (\S+)$/;

/**
 * The MOVED messages in a pipeline's `[error, result]` list: each command's error, and the
 * errors inside a MULTI's EXEC result.
 */
export function movedMessagesIn(results: unknown): string[] {
  if (!Array.isArray(results)) return [];
  const moved: string[] = [];
  const note = (error: unknown): void => {
    if (error instanceof Error && MOVED.test(error.message)) moved.push(error.message);
  };
  for (const entry of results) {
    if (!Array.isArray(entry)) continue;
    const [error, value] = entry as [unknown, unknown];
    note(error);
    if (Array.isArray(value)) value.forEach(note);
  }
  return moved;
}

/**
 * Points each MOVED message's slot at its new owner, the same update ioredis makes for a
 * single command's MOVED (cluster/index.ts, Pipeline.ts), and starts one slot refresh for the
 * rest of the map. Also used for the MOVED replies the sync client's fast lane saw in a
 * pipeline it ran on a lent socket (ioredis never saw those results).
 */
export function learnSlotOwnersFromMovedMessages(cluster: Cluster, messages: readonly string[], toHostKey: AnnouncedToHostKey): void {
  let moved = false;
  for (const message of messages) {
    const match = MOVED.exec(message);
    if (!match) continue;
    const slot = Number(match[1]);
    const key = toHostKey(match[2]);
    if (cluster.slots[slot]?.[0] !== key) {
      cluster.slots[slot] = [key];
      // Kept in step with `slots` by ioredis (typed, underscore-named): only if they are there.
      if (Array.isArray(cluster._groupsBySlot) && typeof cluster._groupsIds === "object" && cluster._groupsIds !== null) {
        cluster._groupsBySlot[slot] = cluster._groupsIds[key];
      }
    }
    moved = true;
  }
  // One refresh per batch; ioredis coalesces it with one already running.
  if (moved) cluster.refreshSlotsCache();
}

/** Watches a pipeline's results (also when a MULTI's EXEC fails) without changing what the caller gets. */
function watch(pipeline: unknown, cluster: Cluster, toHostKey: AnnouncedToHostKey): void {
  if (!(pipeline instanceof Pipeline)) return;
  pipeline.promise.then(
    (results) => learnSlotOwnersFromMovedMessages(cluster, movedMessagesIn(results), toHostKey),
    () => undefined, // the caller's exec() reports it
  );
}

/** Installs the MOVED handling on `cluster`'s `pipeline()` and `multi()` (instance methods in ioredis). */
export function learnSlotOwnersFromPipelines(cluster: Cluster, toHostKey: AnnouncedToHostKey): Cluster {
  const { pipeline, multi } = cluster;
  cluster.pipeline = function (this: Cluster, ...args: Parameters<Cluster["pipeline"]>) {
    const created = pipeline.apply(this, args);
    watch(created, cluster, toHostKey);
    return created;
  } as Cluster["pipeline"];
  cluster.multi = function (this: Cluster, ...args: unknown[]) {
    const created = (multi as (...a: unknown[]) => unknown).apply(this, args);
    watch(created, cluster, toHostKey);
    return created;
  } as Cluster["multi"];
  return cluster;
}
