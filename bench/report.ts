// What every benchmark under bench/ shares: the record type of bench-results/*.json, the
// statistics over repeated timings, the console table and the atomic JSON writer.

import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, writeOutput } from '../src/cli/output.js';

/** One figure of a benchmark, beside the reference it is compared with (null: none). */
export interface BenchRecord {
  name: string;
  value: number;
  unit: string;
  reference: string | null;
  referenceValue: number | null;
  /** value / referenceValue. */
  ratio: number | null;
}

/** A record; `ratio` is value / referenceValue when there is a (non-zero) reference value. */
export function record(name: string, value: number, unit: string, reference: string | null = null, referenceValue: number | null = null): BenchRecord {
  return { name, value, unit, reference, referenceValue, ratio: referenceValue ? value / referenceValue : null };
}

/**
 * The value at index floor(p/100 · n) of ascending `sorted` (clamped to the last): p = 50 is the
 * upper median. NaN when empty. (src/bench/inference.ts `percentile` is the nearest-rank one of
 * `rnnx bench`; bench/infer.ts uses that one, to compare like with like.)
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** percentile(·, 50) of unsorted `values` (the upper median for an even count). */
export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export const round2 = (x: number): number => Math.round(x * 100) / 100;
export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Prints `header` and `rows` as a table (see formatTable; default: every column left-aligned). */
export function printTable(header: string[], rows: string[][], align?: (column: number) => 'left' | 'right'): void {
  console.log(formatTable([header, ...rows], align));
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Writes `records` to bench-results/<name>.json in the repository, atomically, and says so. */
export function writeResults(name: string, records: readonly BenchRecord[]): string {
  const out = join(ROOT, 'bench-results', `${name}.json`);
  writeOutput(out, `${JSON.stringify(records, null, 2)}\n`);
  console.log(`wrote ${relative(process.cwd(), out)}`);
  return out;
}
