/** Collects a bench run's samples and failures, and turns them into result rows. */
import { runInterleaved, type Contender, type RoundsOptions } from "./measure";
import { checkRatio, checkValue, type ResultRow, type Target } from "./report";
import { isFigure, median } from "./stats";

/** Everything a bench run measured, what went wrong, and the rows built from it. */
export class Results {
  readonly samples = new Map<string, number[]>();
  readonly values = new Map<string, number[]>();
  readonly failures: string[] = [];
  readonly rows: ResultRow[] = [];
  readonly notes: Record<string, unknown> = {};

  constructor(private readonly log: (line: string) => void) {}

  async group(name: string, matchups: readonly (readonly Contender[])[], rounds: RoundsOptions): Promise<void> {
    this.log(`${name}: ${matchups.flat().length} contenders x ${rounds.rounds} rounds of ${rounds.budgetMs} ms`);
    try {
      const samples = await runInterleaved(matchups, rounds);
      for (const [id, s] of samples) this.samples.set(id, s);
    } catch (error) {
      this.fail(name, error);
    }
  }

  fail(what: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.failures.push(`${what}: ${message}`);
    this.log(`FAILED ${what}: ${message}`);
  }

  addValue(id: string, value: number): void {
    const list = this.values.get(id) ?? [];
    list.push(value);
    this.values.set(id, list);
  }

  ratio(section: string, label: string, num: [string, string], den: [string, string], target?: Target): void {
    const a = this.samples.get(num[0]) ?? [];
    const b = this.samples.get(den[0]) ?? [];
    const rounds = Math.min(a.length, b.length);
    const figuresOk = rounds > 0 && a.every(isFigure) && b.every(isFigure);
    const roundRatios = Array.from({ length: rounds }, (_, i) => a[i] / b[i]);
    const ratio = median(roundRatios);
    this.rows.push({
      kind: "ratio",
      section,
      label,
      numerator: { id: num[0], name: num[1], opsPerSec: median(a) },
      denominator: { id: den[0], name: den[1], opsPerSec: median(b) },
      ratio,
      roundRatios: roundRatios.map((x) => Number(x.toFixed(3))),
      ...(target && { target }),
      check: checkRatio(ratio, figuresOk, target),
    });
  }

  value(section: string, label: string, id: string, unit: "ms" | "MB", target?: Target): void {
    const samples = this.values.get(id) ?? [];
    const value = median(samples);
    this.rows.push({ kind: "value", section, label, value, unit, samples, ...(target && { target }), check: checkValue(value, target) });
  }
}
