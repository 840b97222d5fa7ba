/**
 * The bench's results: rows with their targets, the printed table and the JSON document.
 * Targets are informational (PASS/MISS); only missing figures make the run fail.
 */
import { formatRate, isFigure } from "./stats";

/** A target on a figure: `min` for ratios (higher is better), `max` for times and sizes. */
export interface Target {
  min?: number;
  /** The figure the issue hopes for, beyond the bar (shown, not checked). */
  aim?: number;
  max?: number;
}

export type Check = "PASS" | "MISS" | "info" | "FAILED";

/** Two contenders compared as numerator / denominator (ops/s, higher is better). */
export interface RatioRow {
  kind: "ratio";
  section: string;
  label: string;
  numerator: { id: string; name: string; opsPerSec: number };
  denominator: { id: string; name: string; opsPerSec: number };
  /** Median over rounds of the per-round ratio (each round pairs runs close in time). */
  ratio: number;
  /** The per-round ratios, to judge the noise. */
  roundRatios: number[];
  target?: Target;
  check: Check;
}

/** A single figure: a time in ms or a size in MB (lower is better). */
export interface ValueRow {
  kind: "value";
  section: string;
  label: string;
  value: number;
  unit: "ms" | "MB";
  /** Every sample the median was taken from. */
  samples: number[];
  target?: Target;
  check: Check;
}

export type ResultRow = RatioRow | ValueRow;

export function checkRatio(ratio: number, figuresOk: boolean, target?: Target): Check {
  if (!figuresOk || !isFigure(ratio)) return "FAILED";
  if (target?.min === undefined) return "info";
  return ratio >= target.min ? "PASS" : "MISS";
}

export function checkValue(value: number, target?: Target): Check {
  if (!Number.isFinite(value) || value < 0) return "FAILED";
  if (target?.max === undefined) return "info";
  return value < target.max ? "PASS" : "MISS";
}

function describeTarget(target: Target | undefined): string {
  if (target === undefined) return "";
  const parts: string[] = [];
  if (target.min !== undefined) parts.push(`>= ${target.min}`);
  if (target.aim !== undefined) parts.push(`(aim ${target.aim})`);
  if (target.max !== undefined) parts.push(`< ${target.max}`);
  return parts.join(" ");
}

/** Renders the rows as a plain-text table grouped by section (also pasted into BENCHMARKS.md). */
export function formatTable(rows: readonly ResultRow[]): string {
  const header = ["measurement", "numerator", "ops/s", "denominator", "ops/s", "ratio / value", "target", "check"];
  const lines: string[][] = [];
  let section = "";
  for (const row of rows) {
    if (row.section !== section) {
      section = row.section;
      lines.push([`[${section}]`, "", "", "", "", "", "", ""]);
    }
    if (row.kind === "ratio") {
      lines.push([
        `  ${row.label}`,
        row.numerator.name,
        formatRate(row.numerator.opsPerSec),
        row.denominator.name,
        formatRate(row.denominator.opsPerSec),
        Number.isFinite(row.ratio) ? row.ratio.toFixed(3) : "n/a",
        describeTarget(row.target),
        row.check,
      ]);
    } else {
      const shown = Number.isFinite(row.value) ? `${row.value.toFixed(row.unit === "MB" ? 1 : 0)} ${row.unit}` : "n/a";
      lines.push([`  ${row.label}`, "", "", "", "", shown, describeTarget(row.target), row.check]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells: string[]): string =>
    cells.map((c, i) => (i >= 2 && i !== 3 && i < 6 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [render(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(render)].join("\n");
}
