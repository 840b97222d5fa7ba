/**
 * A bounded read/write workload and its bookkeeping, shared by the async load (in the test
 * process) and the sync load (in a child process, because a blocking client would stall
 * the async one if both ran on one thread).
 *
 * Every call is recorded with its start and end time and its outcome, so the tests can
 * check: nothing acknowledged-and-replicated is lost, every failure reached the caller as
 * an error (attempts = successes + errors, nothing left pending), and no call outlived the
 * command timeout.
 */

export type LoadForm = "async" | "sync";

/** How a write reaches the server: each shape meets a failover differently in ioredis. */
export type WriteShape =
  /** `SET` alone. */
  | "set"
  /** `[SET, WAIT 1 ms]` in one pipeline: write-only, the way an app confirms a write reached a replica. */
  | "setWait"
  /** `MULTI SET EXEC`. */
  | "multi"
  /** `MULTI SET WAIT EXEC` (inside MULTI, WAIT answers at once with the replicas that acked so far). */
  | "multiWait"
  /** `RPUSH` of the value: every acknowledged write stays an element, so each lost one shows, not only the last. */
  | "rpush";

/** A key's workload: one write shape only, or `mixed` (the original load: a write, then a GET, in turn). */
export type WorkloadShape = WriteShape | "mixed";

export interface WorkloadKey {
  key: string;
  /** Label of the server that owned the key when the load started (master node id, or `standalone`). */
  shard: string;
  /** Default `mixed`: writes are `setWait` (or `set` when the spec's waitTimeoutMs is 0), each followed by a GET. */
  shape?: WorkloadShape;
}

export interface CallRecord {
  form: LoadForm;
  op: "write" | "read";
  /** The key's workload shape. */
  shape: WorkloadShape;
  key: string;
  shard: string;
  /** The value written (writes), or the number read (reads; -1 for a missing key). */
  value: number;
  /** Epoch ms. */
  start: number;
  end: number;
  ok: boolean;
  /** `<name>: <message>` of the error the caller got. */
  error?: string;
  /** Writes: replicas that confirmed it (`WAIT`); -1 when the workload does not wait. */
  replicasAcked?: number;
}

export interface WorkloadSpec {
  keys: WorkloadKey[];
  /** `WAIT 1 <waitTimeoutMs>` after each write; 0 turns WAIT off (standalone has no replica). */
  waitTimeoutMs: number;
  /** Pause between two calls of one loop: keeps the load bounded on a shared 2-core machine. */
  pauseMs: number;
}

/** The two operations the workload needs, in async form. */
export interface AsyncKeyValue {
  /** Writes in `shape` and returns how many replicas WAIT reported (-1 for shapes without WAIT). */
  write(key: string, value: number, shape: WriteShape, waitTimeoutMs: number): Promise<number>;
  read(key: string): Promise<string | null>;
}

/** The same operations, blocking. */
export interface SyncKeyValue {
  write(key: string, value: number, shape: WriteShape, waitTimeoutMs: number): number;
  read(key: string): string | null;
}

/** What the `visit`-th call on a key does. */
function callFor(key: WorkloadKey, visit: number, waitTimeoutMs: number): { op: "write" | "read"; shape: WorkloadShape; writeShape: WriteShape } {
  const shape = key.shape ?? "mixed";
  if (shape !== "mixed") return { op: "write", shape, writeShape: shape };
  return { op: visit % 2 === 0 ? "write" : "read", shape, writeShape: waitTimeoutMs > 0 ? "setWait" : "set" };
}

/** Round-robin over keys, counting each key's visits. */
class KeyCursor {
  private i = 0;
  private readonly visits = new Map<string, number>();
  constructor(private readonly keys: WorkloadKey[]) {}
  next(): { key: WorkloadKey; visit: number } {
    const key = this.keys[this.i++ % this.keys.length];
    const visit = this.visits.get(key.key) ?? 0;
    this.visits.set(key.key, visit + 1);
    return { key, visit };
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `non-Error thrown: ${String(error)}`;
}

/** Per-key write counters: each key has one writer, so values grow monotonically per key. */
export class KeyCounters {
  private readonly next = new Map<string, number>();
  nextValue(key: string): number {
    const value = (this.next.get(key) ?? 0) + 1;
    this.next.set(key, value);
    return value;
  }
}

function readValue(raw: string | null): number {
  return raw === null ? -1 : Number(raw);
}

/**
 * Runs one loop per shard (so a call stuck on a dead shard does not stop the others), each
 * alternating a write and a read over that shard's keys, until `stop()`.
 */
export class AsyncWorkload {
  private attempts = 0;
  private stopped = false;
  private readonly loops: Array<Promise<void>> = [];
  private readonly counters = new KeyCounters();

  /** `records` may be shared with other workloads (one timeline per form). */
  constructor(
    private readonly ops: AsyncKeyValue,
    private readonly spec: WorkloadSpec,
    readonly records: CallRecord[] = [],
  ) {}

  /** One loop per shard and shape. */
  start(): void {
    const groups = new Map<string, WorkloadKey[]>();
    for (const k of this.spec.keys) {
      const group = `${k.shard} ${k.shape ?? "mixed"}`;
      groups.set(group, [...(groups.get(group) ?? []), k]);
    }
    for (const keys of groups.values()) this.loops.push(this.loop(keys));
  }

  /** Calls started but not yet settled (resolved or rejected). */
  get pending(): number {
    return this.attempts - this.settled;
  }
  private settled = 0;

  get attemptCount(): number {
    return this.attempts;
  }

  /** Stops starting calls and waits, at most `boundMs`, for the calls in flight. */
  async stop(boundMs: number): Promise<void> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.loops),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, boundMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private record(call: CallRecord): void {
    this.records.push(call);
    this.settled++;
  }

  private async loop(keys: WorkloadKey[]): Promise<void> {
    const cursor = new KeyCursor(keys);
    while (!this.stopped) {
      const { key: k, visit } = cursor.next();
      const { key, shard } = k;
      const { op, shape, writeShape } = callFor(k, visit, this.spec.waitTimeoutMs);
      const value = op === "write" ? this.counters.nextValue(key) : 0;
      this.attempts++;
      const start = Date.now();
      try {
        if (op === "write") {
          const replicasAcked = await this.ops.write(key, value, writeShape, this.spec.waitTimeoutMs);
          this.record({ form: "async", op, shape, key, shard, value, start, end: Date.now(), ok: true, replicasAcked });
        } else {
          const raw = await this.ops.read(key);
          this.record({ form: "async", op, shape, key, shard, value: readValue(raw), start, end: Date.now(), ok: true });
        }
      } catch (error) {
        this.record({ form: "async", op, shape, key, shard, value, start, end: Date.now(), ok: false, error: describeError(error) });
      }
      await new Promise((resolve) => setTimeout(resolve, this.spec.pauseMs));
    }
  }
}

/** One blocking call of the sync workload; the caller loops and yields between calls. */
export class SyncWorkloadStepper {
  private readonly cursor: KeyCursor;
  private readonly counters = new KeyCounters();

  constructor(
    private readonly ops: SyncKeyValue,
    private readonly spec: WorkloadSpec,
  ) {
    this.cursor = new KeyCursor(spec.keys);
  }

  /** Keys are visited round-robin over all shards; a call on a dead shard blocks this loop, by design of a blocking client. */
  step(): CallRecord {
    const { key: k, visit } = this.cursor.next();
    const { key, shard } = k;
    const { op, shape, writeShape } = callFor(k, visit, this.spec.waitTimeoutMs);
    const value = op === "write" ? this.counters.nextValue(key) : 0;
    const start = Date.now();
    try {
      if (op === "write") {
        const replicasAcked = this.ops.write(key, value, writeShape, this.spec.waitTimeoutMs);
        return { form: "sync", op, shape, key, shard, value, start, end: Date.now(), ok: true, replicasAcked };
      }
      const raw = this.ops.read(key);
      return { form: "sync", op, shape, key, shard, value: readValue(raw), start, end: Date.now(), ok: true };
    } catch (error) {
      return { form: "sync", op, shape, key, shard, value, start, end: Date.now(), ok: false, error: describeError(error) };
    }
  }
}

/** Per key, the last value whose write was acknowledged and confirmed by a replica (WAIT >= 1). */
export function confirmedValues(records: CallRecord[]): Map<string, number> {
  const confirmed = new Map<string, number>();
  for (const r of records) {
    if (r.op === "write" && r.ok && (r.replicasAcked ?? 0) >= 1) {
      confirmed.set(r.key, Math.max(confirmed.get(r.key) ?? 0, r.value));
    }
  }
  return confirmed;
}

export interface LoadSummary {
  calls: number;
  ok: number;
  errors: number;
  maxCallMs: number;
  /** Distinct error texts with counts, for the report. */
  errorKinds: Record<string, number>;
}

export function summarize(records: CallRecord[]): LoadSummary {
  const errorKinds: Record<string, number> = {};
  let maxCallMs = 0;
  let ok = 0;
  for (const r of records) {
    maxCallMs = Math.max(maxCallMs, r.end - r.start);
    if (r.ok) ok++;
    else {
      // Node ids and ports vary per run; keep the kind of error readable.
      const kind = (r.error ?? "").replace(/[0-9a-f]{40}/g, "<id>").replace(/\d+/g, "N").slice(0, 120);
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    }
  }
  return { calls: records.length, ok, errors: records.length - ok, maxCallMs, errorKinds };
}
