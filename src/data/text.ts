// Long text for char-level models: a vocabulary (index → character, saved into the model's
// metadata), one-hot inputs and next-character targets.

import type { SequenceDataset } from './dataset.js';
import { UserError } from './errors.js';
import { statefulStarts } from './timeseries.js';

/** Sorted distinct characters (code points) of `text`. */
export function buildVocabulary(text: string): string[] {
  return [...new Set(Array.from(text))].sort();
}

/** Line and column (1-based) of code-point position `pos` in `chars`. */
function locate(chars: string[], pos: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (let i = 0; i < pos; i++) {
    if (chars[i] === '\n') {
      line++;
      column = 1;
    } else column++;
  }
  return { line, column };
}

function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  return `${JSON.stringify(ch)} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

/** Maps text to vocabulary indices; a character outside the vocabulary is a UserError naming line and column. */
export function encodeText(text: string, vocabulary: string[], file = 'text'): Int32Array {
  const index = new Map(vocabulary.map((c, i) => [c, i]));
  const chars = Array.from(text);
  const out = new Int32Array(chars.length);
  for (let i = 0; i < chars.length; i++) {
    const k = index.get(chars[i]);
    if (k === undefined) {
      const { line, column } = locate(chars, i);
      throw new UserError(`${file}: line ${line}, column ${column}: character ${describeChar(chars[i])} is not in the model's vocabulary of ${vocabulary.length} characters`);
    }
    out[i] = k;
  }
  return out;
}

/** One-hot rows for a list of indices: [n, vocab]. */
export function oneHot(codes: ArrayLike<number>, vocab: number): Float32Array {
  const x = new Float32Array(codes.length * vocab);
  for (let i = 0; i < codes.length; i++) x[i * vocab + codes[i]] = 1;
  return x;
}

export interface TextDatasetOptions {
  /** Sequence length T. */
  time: number;
  /** Steps between sequence starts. Default T (no overlap). Ignored by the stateful layout. */
  stride?: number;
  /** 'windows' (default) or 'stateful' (row j of batch b+1 continues row j of batch b). */
  layout?: 'windows' | 'stateful';
  /** Needed by the stateful layout. */
  batchSize?: number;
  /** Use codes [from, to). */
  from?: number;
  to?: number;
}

/**
 * Sequences of T characters, one-hot x [count, T, vocab], targets the next characters as
 * Int32Array [count, T].
 */
export function textDataset(codes: Int32Array, vocab: number, o: TextDatasetOptions): SequenceDataset {
  const T = o.time;
  if (!Number.isInteger(T) || T <= 0) throw new UserError(`time must be a positive integer, got ${T}`);
  const from = o.from ?? 0;
  const to = o.to ?? codes.length;
  const length = to - from;
  let starts: number[];
  if ((o.layout ?? 'windows') === 'stateful') {
    starts = statefulStarts(length, T, o.batchSize ?? 0, 1, 'text').map((s) => s + from);
  } else {
    const stride = o.stride ?? T;
    if (!Number.isInteger(stride) || stride <= 0) throw new UserError(`stride must be a positive integer, got ${stride}`);
    if (length < T + 1) throw new UserError(`text has ${length} characters, need at least ${T + 1} for one sequence of ${T} plus its next character`);
    starts = [];
    for (let s = from; s + T + 1 <= to; s += stride) starts.push(s);
  }
  const count = starts.length;
  const x = new Float32Array(count * T * vocab);
  const y = new Int32Array(count * T);
  starts.forEach((s, n) => {
    for (let t = 0; t < T; t++) {
      x[(n * T + t) * vocab + codes[s + t]] = 1;
      y[n * T + t] = codes[s + t + 1];
    }
  });
  return { x, count, time: T, features: vocab, y, yShape: [count, T] };
}
