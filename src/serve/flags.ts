// The tuning flags shared by `rnnx serve` (src/cli) and the stand-alone entry (main.ts): one
// table, so the two accept the same flags with the same checks and messages.

import { MAX_TIMEOUT_MS } from './batcher.js';
import type { ServerOptions } from './http.js';

type NumericKey = {
  [K in keyof ServerOptions]-?: NonNullable<ServerOptions[K]> extends number ? K : never;
}[keyof ServerOptions];

export interface ServeFlag {
  /** Name without the leading dashes, e.g. 'max-queue'. */
  flag: string;
  key: NumericKey;
  /** int: an integer >= min; number: a finite number >= min; ms: a delay, 0 < v <= MAX_TIMEOUT_MS. */
  kind: 'int' | 'number' | 'ms';
  min: number;
  describe: string;
}

export const SERVE_FLAGS: readonly ServeFlag[] = [
  { flag: 'max-batch', key: 'maxBatch', kind: 'int', min: 1, describe: 'Most requests merged into one run (default 64)' },
  { flag: 'max-wait-ms', key: 'maxWaitMs', kind: 'number', min: 0, describe: 'How long the oldest request may wait for a batch to fill (default 2)' },
  { flag: 'max-queue', key: 'maxQueue', kind: 'int', min: 1, describe: 'Most requests waiting for a run; past it 503 (default 1024)' },
  { flag: 'max-queue-bytes', key: 'maxQueueBytes', kind: 'int', min: 1, describe: 'Most input bytes held by waiting requests (default 256 MiB)' },
  { flag: 'max-batch-bytes', key: 'maxBatchBytes', kind: 'int', min: 1, describe: 'Most bytes one padded run may hold (default 256 MiB)' },
  { flag: 'max-time', key: 'maxTime', kind: 'int', min: 1, describe: 'Longest sequence or chunk accepted, in steps (default 20000)' },
  { flag: 'timeout-ms', key: 'timeoutMs', kind: 'ms', min: 0, describe: 'Default per-request timeout, queue wait plus run (default 30000)' },
  { flag: 'max-body-bytes', key: 'maxBodyBytes', kind: 'int', min: 1, describe: 'Largest request body; larger ones get 413 (default 8 MiB)' },
  { flag: 'max-buffered-body-bytes', key: 'maxBufferedBodyBytes', kind: 'int', min: 1, describe: 'Most body bytes being received at once over all connections (default 256 MiB)' },
  { flag: 'max-streams', key: 'maxStreams', kind: 'int', min: 1, describe: 'Most open streams (default 1024)' },
  { flag: 'idle-timeout-ms', key: 'idleTimeoutMs', kind: 'ms', min: 0, describe: 'A stream untouched this long is closed (default 600000)' },
  { flag: 'drain-timeout-ms', key: 'drainTimeoutMs', kind: 'ms', min: 0, describe: 'Most time a SIGTERM drain waits for in-flight requests (default 30000)' },
  { flag: 'workers', key: 'workers', kind: 'int', min: 0, describe: '0: run in process (a run blocks the event loop); n: a pool of n worker threads' },
  { flag: 'threads', key: 'intraOpNumThreads', kind: 'int', min: 0, describe: 'ONNX Runtime intra-op threads per session' },
];

/** Parses one flag's raw value (string or number); throws `makeError(message)` naming the flag. */
export function parseServeFlag(f: ServeFlag, raw: unknown, makeError: (message: string) => Error = (m) => new Error(m)): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  const ok =
    f.kind === 'int' ? Number.isInteger(n) && n >= f.min
      : f.kind === 'number' ? Number.isFinite(n) && n >= f.min
        : n > 0 && n <= MAX_TIMEOUT_MS;
  if (!ok) {
    const expected = f.kind === 'int' ? `an integer >= ${f.min}` : f.kind === 'number' ? `a number >= ${f.min}` : `a number of milliseconds > 0 and <= ${MAX_TIMEOUT_MS}`;
    throw makeError(`--${f.flag} must be ${expected}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Every shared flag present in `values` (keyed by flag name), as ServerOptions fields. */
export function serveFlagOptions(values: Record<string, unknown>, makeError?: (message: string) => Error): Partial<ServerOptions> {
  const out: Partial<Record<NumericKey, number>> = {};
  for (const f of SERVE_FLAGS) {
    const v = parseServeFlag(f, values[f.flag], makeError);
    if (v !== undefined) out[f.key] = v;
  }
  return out;
}
