/**
 * WATCH / MULTI state of the sync client's connection, kept by the worker.
 *
 * WATCH and a MULTI begun with `call("multi")` live on one server connection. While either is
 * held the connection is pinned: nothing is lent to the fast lane, so no lane timeout can make
 * the connection be dropped. If the connection closes anyway (server restart, network), ioredis
 * reconnects and would send the EXEC on the new connection, where nothing is watched: the
 * transaction would commit over a concurrent change. Here that EXEC is refused instead
 * (WatchLostError), and the transaction did not run.
 */
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import { WatchLostError } from "./syncErrors";

/** What a command means for the transaction state. */
export type TransactionVerb = "watch" | "multi" | "exec" | "discard" | "unwatch" | "reset" | "other";

const VERBS: ReadonlySet<string> = new Set(["watch", "multi", "exec", "discard", "unwatch", "reset"]);

export class TransactionState {
  private watching = false;
  private inMulti = false;
  private lostCause: string | undefined;

  constructor(client: Redis | Cluster) {
    const onClose = (): void => {
      if (this.pinned) this.lostCause ??= "the connection that held it closed";
    };
    if ("nodes" in client && typeof (client as Cluster).nodes === "function" && (client as Cluster).isCluster) {
      const cluster = client as Cluster;
      const hooked = new WeakSet<Redis>();
      const hook = (node: Redis): void => {
        if (hooked.has(node)) return;
        hooked.add(node);
        node.on("close", onClose);
      };
      cluster.on("+node", hook);
      for (const node of cluster.nodes("all")) hook(node);
    } else {
      (client as Redis).on("close", onClose);
    }
  }

  /** Pinned: WATCH or MULTI is held on the connection. */
  get pinned(): boolean {
    return this.watching || this.inMulti;
  }

  /** The verb of a facade method call (`call("watch", ...)` included). */
  verbOf(method: string, args: readonly unknown[]): TransactionVerb {
    let name = method.replace(/Buffer$/, "");
    if (name === "call") name = typeof args[0] === "string" ? args[0].toLowerCase() : "";
    return VERBS.has(name) ? (name as TransactionVerb) : "other";
  }

  /** The error to answer instead of running `verb`, if its transaction can no longer hold. */
  refusal(verb: TransactionVerb): Error | undefined {
    if (verb !== "exec" || this.lostCause === undefined || !this.watching) return undefined;
    const cause = this.lostCause;
    this.reset();
    return new WatchLostError(
      `EXEC not sent: WATCH was lost (${cause}; the new connection watches nothing), so the ` +
        "transaction did not run. WATCH the keys again, re-read them and retry.",
    );
  }

  /** Follows `verb`'s outcome into the state; returns its promise unchanged. */
  track<T>(verb: TransactionVerb, pending: Promise<T>): Promise<T> {
    if (verb === "other") return pending;
    if (verb === "watch" || verb === "multi") {
      // Pinned from the moment it is sent: nothing is lent while it runs.
      if (verb === "watch") this.watching = true;
      else this.inMulti = true;
      return pending.then(
        (value) => value,
        (error: unknown) => {
          if (verb === "multi") this.inMulti = false;
          throw error;
        },
      );
    }
    // EXEC, DISCARD, RESET end both; UNWATCH ends WATCH. Sent means ended, whatever the reply.
    if (verb === "unwatch") {
      if (!this.inMulti) this.watching = false;
    } else this.reset();
    if (!this.pinned) this.lostCause = undefined;
    return pending;
  }

  private reset(): void {
    this.watching = false;
    this.inMulti = false;
    this.lostCause = undefined;
  }
}
