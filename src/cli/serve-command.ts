// `rnnx serve MODEL.onnx --port N`: parses flags and hands them to the serving layer's startServer.
import { existsSync } from 'node:fs';
import { startServer } from '../serve/http.js';
import { serveFlagOptions } from '../serve/flags.js';
import { UserError } from '../data/errors.js';
import { userInputAsync } from './errors.js';
import { parseProviders } from './predict.js';

export default async function serve(argv: Record<string, unknown>): Promise<void> {
  const modelPath = String(argv.model);
  if (!existsSync(modelPath)) throw new UserError(`${modelPath}: cannot read: no such file or directory`);
  const port = Number(argv.port ?? 8080);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UserError(`--port must be an integer in [0, 65535], got ${JSON.stringify(argv.port)}`);
  // The tuning flags are the ones src/serve/main.ts takes, from one table (src/serve/flags.ts).
  const tuning = serveFlagOptions(argv, (m) => new UserError(m));
  const server = await userInputAsync(modelPath, () =>
    startServer({
      modelPath,
      port,
      host: String(argv.host ?? '127.0.0.1'),
      providers: parseProviders(argv.provider ?? 'cpu'),
      ...tuning,
      handleSignals: true,
    }),
  );
  process.stdout.write(`${JSON.stringify({ listening: server.url, provider: server.service.provider })}\n`);
}
