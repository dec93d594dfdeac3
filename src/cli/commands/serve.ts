// `rnnx serve MODEL.onnx... --port N`: parses flags and hands them to the serving layer's startServer.
import { existsSync, readFileSync } from 'node:fs';
import { startServer } from '../../serve/http.js';
import { serveFlagOptions, serveSecrets } from '../../serve/flags.js';
import { UserError } from '../../data/errors.js';
import { userInputAsync } from '../errors.js';
import { providersArg } from '../providers.js';

export default async function serve(argv: Record<string, unknown>): Promise<void> {
  const models = (Array.isArray(argv.model) ? argv.model : [argv.model]).map(String);
  for (const m of models) if (!existsSync(m)) throw new UserError(`${m}: cannot read: no such file or directory`);
  const port = Number(argv.port ?? 8080);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UserError(`--port must be an integer in [0, 65535], got ${JSON.stringify(argv.port)}`);
  // The tuning flags are the ones src/serve/main.ts takes, from one table (src/serve/flags.ts).
  const tuning = serveFlagOptions(argv, (m) => new UserError(m));
  const secrets = serveSecrets(argv, process.env, (p) => readFileSync(p, 'utf8'), (m) => new UserError(m));
  const server = await userInputAsync(models.join(', '), () =>
    startServer({
      modelPath: models,
      port,
      host: String(argv.host ?? '127.0.0.1'),
      providers: providersArg(argv),
      ...tuning,
      ...secrets,
      handleSignals: true,
    }),
  );
  process.stdout.write(`${JSON.stringify({ listening: server.url, models: server.services.map((s) => s.name), provider: server.service.provider })}\n`);
}
