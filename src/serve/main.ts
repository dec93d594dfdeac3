// Stand-alone server entry: `node --import tsx src/serve/main.ts MODEL.onnx --port 8080`
// (or dist/src/serve/main.js). Parses flags with node:util, starts the server with signal
// handling (SIGTERM/SIGINT drain, then exit 0) and prints one JSON line {"listening": url} on
// stdout once the port is bound. The `rnnx serve` CLI command calls startServer the same way.

import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startServer, type RunningServer, type ServerOptions } from './http.js';
import { parseProviderList } from '../runtime/providers.js';
import { readFileSync } from 'node:fs';
import { SERVE_FLAGS, serveFlagOptions, serveSecrets } from './flags.js';

const USAGE = `usage: serve MODEL.onnx|REPOSITORY... [--token-file F] [--state-key-file F] [--port N] [--host H] [--providers cuda,webgpu,cpu]
             ${SERVE_FLAGS.map((f) => `[--${f.flag} ${f.kind === 'int' ? 'N' : 'MS'}]`).join(' ')}`;

/** Turns command-line arguments into ServerOptions (throws with the flag named on bad values). */
export function parseServeArgs(argv: string[]): ServerOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      providers: { type: 'string' },
      'token-file': { type: 'string' },
      'state-key-file': { type: 'string' },
      ...Object.fromEntries(SERVE_FLAGS.map((f) => [f.flag, { type: 'string' as const }])),
    },
  });
  if (positionals.length === 0) throw new Error(`expected at least one model path\n${USAGE}`);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`--port must be an integer in [0, 65535], got ${JSON.stringify(values.port)}`);
  return {
    modelPath: positionals.length === 1 ? positionals[0] : positionals,
    port,
    host: values.host as string | undefined,
    // The same parser as the rnnx commands' --providers (src/cli/providers.ts).
    providers: values.providers === undefined ? undefined : parseProviderList(values.providers),
    ...serveFlagOptions(values),
    ...serveSecrets(values, process.env, (p) => readFileSync(p, 'utf8')),
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
