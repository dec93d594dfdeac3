// Stand-alone server entry: `node --import tsx src/serve/main.ts MODEL.onnx --port 8080`
// (or dist/src/serve/main.js). Parses flags with node:util, starts the server with signal
// handling (SIGTERM/SIGINT drain, then exit 0) and prints one JSON line {"listening": url} on
// stdout once the port is bound. The `rnnx serve` CLI command calls startServer the same way.

import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startServer, type RunningServer, type ServerOptions } from './http.js';
import type { ProviderName } from './engine.js';

const USAGE = `usage: serve MODEL.onnx [--port N] [--host H] [--max-batch N] [--max-wait-ms MS] [--max-queue N]
             [--workers N] [--threads N] [--providers cuda,webgpu,cpu] [--timeout-ms MS] [--max-body-bytes N]`;

function int(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${flag} must be a number >= 0, got ${JSON.stringify(v)}`);
  return n;
}

/** Turns command-line arguments into ServerOptions (throws with the flag named on bad values). */
export function parseServeArgs(argv: string[]): ServerOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'max-batch': { type: 'string' },
      'max-wait-ms': { type: 'string' },
      'max-queue': { type: 'string' },
      workers: { type: 'string' },
      threads: { type: 'string' },
      providers: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'max-body-bytes': { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new Error(`expected exactly one model path, got ${positionals.length}\n${USAGE}`);
  return {
    modelPath: positionals[0],
    port: int('port', values.port, 0),
    host: values.host,
    maxBatch: int('max-batch', values['max-batch'], 1),
    maxWaitMs: num('max-wait-ms', values['max-wait-ms']),
    maxQueue: int('max-queue', values['max-queue'], 1),
    workers: int('workers', values.workers, 0),
    intraOpNumThreads: int('threads', values.threads, 0),
    providers: values.providers?.split(',').map((p) => p.trim()) as ProviderName[] | undefined,
    timeoutMs: num('timeout-ms', values['timeout-ms']),
    maxBodyBytes: int('max-body-bytes', values['max-body-bytes'], 1),
    handleSignals: true,
  };
}

export async function main(argv: string[]): Promise<RunningServer> {
  const server = await startServer(parseServeArgs(argv));
  process.stdout.write(`${JSON.stringify({ listening: server.url, provider: server.service.provider })}\n`);
  return server;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`serve: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
