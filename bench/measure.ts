/**
 * Time-bounded measurement of one contender, and interleaved rounds over several.
 *
 * Each measurement runs for a fixed time budget rather than a fixed op count, so slow
 * and fast contenders cost the same wall time and the whole run stays bounded.
 */
import { nowMs } from "./stats";

/** One thing being measured, e.g. "connector async, sequential GET". */
export interface Contender {
  /** Stable id, used in the JSON file (e.g. `standalone.async.connector.seqGet`). */
  id: string;
  /** Runs for about `budgetMs` and returns operations (Redis commands) per second. */
  measure(budgetMs: number): Promise<number>;
}

/** Ops/s samples per contender id, one per round, in round order. */
export type RoundSamples = Map<string, number[]>;

/**
 * Single commands are issued in chunks between clock reads (a read costs ~0.1 µs, a
 * command tens of µs, so this only trims noise); a batch step reads the clock each time.
 */
const CHUNK = 10;

function chunkFor(commandsPerStep: number): number {
  return commandsPerStep > 1 ? 1 : CHUNK;
}

/** Sequential await-per-call: the next command is sent when the previous reply arrived. */
export async function measureSequential(
  budgetMs: number,
  step: (i: number) => Promise<unknown>,
  commandsPerStep = 1,
): Promise<number> {
  const chunk = chunkFor(commandsPerStep);
  const start = nowMs();
  const deadline = start + budgetMs;
  let steps = 0;
  do {
    for (let j = 0; j < chunk; j++) await step(steps++);
  } while (nowMs() < deadline);
  return (steps * commandsPerStep * 1000) / (nowMs() - start);
}

/** The same as `measureSequential` for a blocking (sync) step. */
export function measureSequentialSync(
  budgetMs: number,
  step: (i: number) => unknown,
  commandsPerStep = 1,
): number {
  const chunk = chunkFor(commandsPerStep);
  const start = nowMs();
  const deadline = start + budgetMs;
  let steps = 0;
  do {
    for (let j = 0; j < chunk; j++) step(steps++);
  } while (nowMs() < deadline);
  return (steps * commandsPerStep * 1000) / (nowMs() - start);
}

/** `concurrency` independent await-loops sharing one client, until the budget is spent. */
export async function measureConcurrent(
  budgetMs: number,
  concurrency: number,
  step: (i: number) => Promise<unknown>,
): Promise<number> {
  const start = nowMs();
  const deadline = start + budgetMs;
  let steps = 0;
  // Each loop checks the clock per command: 50 loops x a chunk would overshoot short budgets.
  const loop = async (): Promise<void> => {
    do {
      await step(steps++);
    } while (nowMs() < deadline);
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return (steps * 1000) / (nowMs() - start);
}

/** How one group of matchups is run. */
export interface RoundsOptions {
  /** Each contender's figure is the median over rounds, each ratio the median of per-round ratios. */
  rounds: number;
  /** Time each contender runs per round. */
  budgetMs: number;
  /** Untimed run of every contender before round 1 (JIT, connections, server caches). */
  warmupMs: number;
}

/**
 * Runs each matchup (the contenders compared with each other) back to back, once per
 * round, rotating which contender goes first (A B, B A, …), so that drift and noise on a
 * shared machine hit the contenders of a ratio alike. Returns each contender's samples.
 */
export async function runInterleaved(matchups: readonly (readonly Contender[])[], options: RoundsOptions): Promise<RoundSamples> {
  const all = matchups.flat();
  for (const c of all) await c.measure(options.warmupMs);
  const samples: RoundSamples = new Map(all.map((c) => [c.id, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const matchup of matchups) {
      for (let k = 0; k < matchup.length; k++) {
        const c = matchup[(round + k) % matchup.length];
        samples.get(c.id)!.push(await c.measure(options.budgetMs));
      }
    }
  }
  return samples;
}
