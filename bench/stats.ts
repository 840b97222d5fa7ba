/** Small statistics and timing helpers shared by the benchmark sections. */

/** Monotonic clock in milliseconds (fractional), from `process.hrtime.bigint()`. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Median of a non-empty list; NaN for an empty one (so a missing figure is visible, not zero). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A measured figure is usable when it is a finite, positive number. */
export function isFigure(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value) && value > 0;
}

/** Formats ops/s compactly: 12345 -> "12.3k". */
export function formatRate(opsPerSec: number): string {
  if (!Number.isFinite(opsPerSec)) return "n/a";
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toFixed(2)}M`;
  if (opsPerSec >= 1e3) return `${(opsPerSec / 1e3).toFixed(1)}k`;
  return opsPerSec.toFixed(0);
}
