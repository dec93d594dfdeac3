// The tuning flags shared by `rnnx serve` (src/cli) and the stand-alone entry (main.ts): one
// table, so the two accept the same flags with the same checks and messages.

import { MAX_TIMEOUT_MS } from './batcher.js';
import { DEFAULT_WORKERS, MAX_WORKERS } from './engine.js';
import type { ServerOptions } from './http.js';

type NumericKey = {
  [K in keyof ServerOptions]-?: NonNullable<ServerOptions[K]> extends number ? K : never;
}[keyof ServerOptions];

export interface ServeFlag {
  /** Name without the leading dashes, e.g. 'max-queue'. */
  flag: string;
  key: NumericKey;
  /** int: an integer in [min, max]; number: a finite number in [min, max]; ms: a delay, 0 < v <= max (default MAX_TIMEOUT_MS). */
  kind: 'int' | 'number' | 'ms';
  min: number;
  /** Largest value accepted: every flag is bounded, so a typo cannot ask for 100000 workers. */
  max: number;
  describe: string;
}

const GIB = 1024 ** 3;

export const SERVE_FLAGS: readonly ServeFlag[] = [
  { flag: 'max-batch', key: 'maxBatch', kind: 'int', min: 1, max: 4096, describe: 'Most requests merged into one run (default 64)' },
  { flag: 'max-wait-ms', key: 'maxWaitMs', kind: 'number', min: 0, max: 60_000, describe: 'How long the oldest request may wait for a batch to fill (default 2)' },
  { flag: 'max-queue', key: 'maxQueue', kind: 'int', min: 1, max: 1_000_000, describe: 'Most requests waiting for a run; past it 503 (default 1024)' },
  { flag: 'max-queue-bytes', key: 'maxQueueBytes', kind: 'int', min: 1, max: 64 * GIB, describe: 'Most input bytes held by waiting requests (default 256 MiB)' },
  { flag: 'max-batch-bytes', key: 'maxBatchBytes', kind: 'int', min: 1, max: 64 * GIB, describe: 'Most bytes one padded run may hold (default 256 MiB)' },
  { flag: 'max-time', key: 'maxTime', kind: 'int', min: 1, max: 10_000_000, describe: 'Longest sequence or chunk accepted, in steps (default 20000)' },
  { flag: 'timeout-ms', key: 'timeoutMs', kind: 'ms', min: 0, max: MAX_TIMEOUT_MS, describe: 'Default per-request timeout, queue wait plus run (default 30000)' },
  { flag: 'max-body-bytes', key: 'maxBodyBytes', kind: 'int', min: 1, max: 4 * GIB, describe: 'Largest request body; larger ones get 413 (default 8 MiB)' },
  { flag: 'max-buffered-body-bytes', key: 'maxBufferedBodyBytes', kind: 'int', min: 1, max: 64 * GIB, describe: 'Most body bytes being received at once over all connections (default 64 MiB)' },
  { flag: 'memory-budget-bytes', key: 'memoryBudgetBytes', kind: 'int', min: 1, max: 1024 * GIB, describe: 'Memory budget of requests in progress (6x their body); past it 503 (default 512 MiB)' },
  { flag: 'body-timeout-ms', key: 'bodyTimeoutMs', kind: 'ms', min: 0, max: MAX_TIMEOUT_MS, describe: 'A request body must arrive whole within this time, else 408 (default 10000)' },
  { flag: 'request-timeout-ms', key: 'requestTimeoutMs', kind: 'ms', min: 0, max: MAX_TIMEOUT_MS, describe: 'Headers and body must arrive within this time, else 408 (default 30000)' },
  { flag: 'max-streams', key: 'maxStreams', kind: 'int', min: 1, max: 1_000_000, describe: 'Most open in-process streams (default 1024)' },
  { flag: 'idle-timeout-ms', key: 'idleTimeoutMs', kind: 'ms', min: 0, max: MAX_TIMEOUT_MS, describe: 'A stream untouched this long is closed (default 600000)' },
  { flag: 'drain-timeout-ms', key: 'drainTimeoutMs', kind: 'ms', min: 0, max: MAX_TIMEOUT_MS, describe: 'Most time a SIGTERM drain waits for in-flight requests (default 30000)' },
  { flag: 'workers', key: 'workers', kind: 'int', min: 0, max: MAX_WORKERS, describe: `Worker threads running ONNX Runtime off the event loop (default ${DEFAULT_WORKERS}); 0 runs on the event loop` },
  { flag: 'threads', key: 'intraOpNumThreads', kind: 'int', min: 0, max: 1024, describe: 'ONNX Runtime intra-op threads per session (default: the CPUs split among the workers)' },
];

/** Parses one flag's raw value (string or number); throws `makeError(message)` naming the flag. */
export function parseServeFlag(f: ServeFlag, raw: unknown, makeError: (message: string) => Error = (m) => new Error(m)): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  const ok =
    f.kind === 'int' ? Number.isInteger(n) && n >= f.min && n <= f.max
      : f.kind === 'number' ? Number.isFinite(n) && n >= f.min && n <= f.max
        : n > 0 && n <= f.max;
  if (!ok) {
    const expected = f.kind === 'int' ? `an integer in [${f.min}, ${f.max}]` : f.kind === 'number' ? `a number in [${f.min}, ${f.max}]` : `a number of milliseconds > 0 and <= ${f.max}`;
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

/**
 * The secrets of `rnnx serve`: the bearer token and the state key, from a file (first line, so a
 * key never shows in `ps`) or the environment (RNNX_SERVE_TOKEN, RNNX_STATE_KEY).
 */
export function serveSecrets(values: { 'token-file'?: unknown; 'state-key-file'?: unknown }, env: NodeJS.ProcessEnv, readText: (path: string) => string, makeError: (message: string) => Error = (m) => new Error(m)): { token?: string; stateKey?: string } {
  const read = (flag: string, path: unknown): string => {
    let text: string;
    try {
      text = readText(String(path));
    } catch (e) {
      throw makeError(`--${flag} ${String(path)}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
    }
    const line = text.split(/\r?\n/)[0].trim();
    if (line === '') throw makeError(`--${flag} ${String(path)}: the file is empty; put the secret on its first line`);
    return line;
  };
  const token = values['token-file'] !== undefined ? read('token-file', values['token-file']) : env.RNNX_SERVE_TOKEN || undefined;
  const stateKey = values['state-key-file'] !== undefined ? read('state-key-file', values['state-key-file']) : env.RNNX_STATE_KEY || undefined;
  if (token !== undefined && token.length < 16) throw makeError(`the bearer token must be at least 16 characters (e.g. \`openssl rand -hex 32\`), got ${token.length}`);
  if (stateKey !== undefined && stateKey.length < 32) throw makeError(`the state key must be at least 32 characters (e.g. \`openssl rand -hex 32\`), got ${stateKey.length}`);
  return { token, stateKey };
}
