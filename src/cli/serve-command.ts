// `rnnx serve MODEL.onnx --port N`: parses flags and hands them to the serving layer's startServer.
import { existsSync } from 'node:fs';
import { startServer } from '../serve/http.js';
import { UserError } from '../data/errors.js';
import { userInputAsync } from './errors.js';
import { parseProviders } from './predict.js';

function optInt(flag: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UserError(`--${flag} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export default async function serve(argv: Record<string, unknown>): Promise<void> {
  const modelPath = String(argv.model);
  if (!existsSync(modelPath)) throw new UserError(`${modelPath}: cannot read: no such file or directory`);
  const waitMs = argv['max-wait-ms'] === undefined ? undefined : Number(argv['max-wait-ms']);
  if (waitMs !== undefined && !(waitMs >= 0)) throw new UserError(`--max-wait-ms must be a number >= 0, got ${JSON.stringify(argv['max-wait-ms'])}`);
  const server = await userInputAsync(modelPath, () =>
    startServer({
      modelPath,
      port: optInt('port', argv.port ?? 8080, 0),
      host: String(argv.host ?? '127.0.0.1'),
      providers: parseProviders(argv.provider ?? 'cpu'),
      maxBatch: optInt('max-batch', argv['max-batch'], 1),
      maxWaitMs: waitMs,
      workers: optInt('workers', argv.workers, 0),
      intraOpNumThreads: optInt('threads', argv.threads, 0),
      handleSignals: true,
    }),
  );
  process.stdout.write(`${JSON.stringify({ listening: server.url, provider: server.service.provider })}\n`);
}
