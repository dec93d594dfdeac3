// The yargs definition of every rnnx command. Each handler, commands/<command>.ts, is imported
// lazily so that `rnnx inspect` does not pay for loading ONNX Runtime or the native trainer.

import yargs, { type Argv, type Options } from 'yargs';
import { CONFIG_FLAGS, CONFIG_SCHEMA_PATH, configSchema, schemaField } from './config.js';
import { EXIT_OK, EXIT_USER, reportError } from './errors.js';
import { SERVE_FLAGS } from '../serve/flags.js';
import { OLD_PROVIDER_OPTION, PROVIDERS_OPTION } from './providers.js';

type Handler = (argv: Record<string, unknown>) => Promise<void> | void;

/** Stands in for `-` while yargs parses (a NUL cannot come from a shell). */
const STDIO = '\0-';

/** Runs the CLI on `args` and returns the exit code (0 ok, 1 user error, 2 internal error). */
export async function runCli(args: string[]): Promise<number> {
  const verbose = args.includes('--verbose');
  if (args.includes('--version')) {
    // Read only here, so that other commands do not load the ONNX code to find the version.
    const { rnnxVersion } = await import('../graph/export.js');
    process.stdout.write(`${rnnxVersion()}\n`);
    return EXIT_OK;
  }
  let handlerStarted = false;
  const wrap = (load: () => Promise<{ default: Handler } | Handler>) => async (argv: Record<string, unknown>) => {
    handlerStarted = true;
    for (const [k, v] of Object.entries(argv)) if (v === STDIO) argv[k] = '-';
    const mod = await load();
    await (typeof mod === 'function' ? mod : mod.default)(argv);
  };
  // yargs reads a lone `-` positional as an empty flag; it means standard output (or input).
  const parser = buildParser(yargs(modelFlagAsPositional(args).map((a) => (a === '-' ? STDIO : a))), wrap);
  try {
    await parser.parseAsync();
    return EXIT_OK;
  } catch (e) {
    if (!handlerStarted) {
      // yargs' own validation: unknown option, missing argument, bad choice.
      const msg = (e as Error)?.message ?? String(e);
      process.stderr.write(`rnnx: ${msg.split('\n')[0]} (see rnnx ${args.find((a) => !a.startsWith('-')) ?? ''} --help)\n`.replace('rnnx  --help', 'rnnx --help'));
      return EXIT_USER;
    }
    return reportError(e, verbose);
  }
}

/** Commands whose first positional is a model file; `--model FILE` is accepted for it everywhere. */
export const MODEL_COMMANDS = ['export', 'inspect', 'predict', 'generate', 'bench', 'serve'];

/**
 * `rnnx predict --model m.onnx -i x.csv` → `rnnx predict m.onnx -i x.csv`: the flag becomes the
 * first positional, so every command that takes a model accepts both spellings (a common habit).
 */
export function modelFlagAsPositional(args: string[]): string[] {
  const cmd = args.findIndex((a) => !a.startsWith('-'));
  if (cmd < 0 || !MODEL_COMMANDS.includes(args[cmd])) return args;
  const end = args.indexOf('--');
  const limit = end < 0 ? args.length : end;
  for (let i = cmd + 1; i < limit; i++) {
    const a = args[i];
    if (a === '--model' && i + 1 < limit) {
      const rest = [...args.slice(0, i), ...args.slice(i + 2)];
      return [...rest.slice(0, cmd + 1), args[i + 1], ...rest.slice(cmd + 1)];
    }
    if (a.startsWith('--model=')) {
      const rest = [...args.slice(0, i), ...args.slice(i + 1)];
      return [...rest.slice(0, cmd + 1), a.slice('--model='.length), ...rest.slice(cmd + 1)];
    }
  }
  return args;
}

/** Options of `rnnx train` that set config fields: one per CONFIG_FLAGS row, described by the schema. */
function configFlagOptions(): Record<string, Options> {
  const out: Record<string, Options> = {};
  for (const f of CONFIG_FLAGS) {
    const field = schemaField(f.path) ?? {};
    const choices = field.enum ?? (f.flag === 'loss' ? field.oneOf?.[0]?.enum : undefined);
    const describe = String(field.description ?? '').replace(/\s+/g, ' ');
    out[f.flag] = {
      // Numbers are read as text and converted by train, so the schema error quotes what was typed.
      type: f.type === 'boolean' ? 'boolean' : 'string',
      describe: `${describe}${choices && !describe.includes(String(choices[0])) ? ` (${choices.join(', ')})` : ''} [${f.path}]`,
      ...(f.flag === 'out' ? { alias: 'o' } : {}),
    };
  }
  return out;
}

/** `rnnx train --help`'s field list: every config field with its meaning, from the schema. */
function configFieldsHelp(): string {
  const { schema } = configSchema();
  const lines: string[] = [];
  const walk = (node: Record<string, any>, prefix: string) => {
    const n = node?.$ref ? schema.definitions[node.$ref.split('/').pop()] : node;
    for (const [k, v] of Object.entries<Record<string, any>>(n?.properties ?? {})) {
      if (k === '$schema' || k === 'kind') continue;
      const child = v.$ref ? schema.definitions[v.$ref.split('/').pop()] : v;
      const desc = v.description ?? child?.description;
      if (desc) lines.push(`  ${prefix}${k}: ${String(desc).replace(/\s+/g, ' ')}`);
      if (child?.properties && !['layers'].includes(k) && prefix.split('.').length < 3) walk(child, `${prefix}${k}.`);
    }
  };
  lines.push('Config fields (schema: ' + CONFIG_SCHEMA_PATH + ' in the package; put "$schema" in a config for editor help):');
  walk(schema, '');
  for (const [kind, def] of [['csv', 'csvData'], ['text', 'textData'], ['sequences', 'sequencesData']]) {
    lines.push(`  data (kind ${kind}):`);
    for (const [k, v] of Object.entries<Record<string, any>>(schema.definitions[def].properties)) {
      if (k === 'kind') continue;
      lines.push(`    data.${k}: ${String(v.description ?? '').replace(/\s+/g, ' ')}`);
    }
  }
  lines.push('  model.layers[]: {kind: rnn|lstm|gru|dense, units, direction: forward|reverse|bidirectional, returnSequences, dropout, recurrentDropout, activation: none|relu|tanh|sigmoid|softmax, ...}');
  return lines.join('\n');
}

const EPILOG = 'Exit codes: 0 success, 1 user error (one-line message; add --verbose for the stack), 2 internal error.';

export function buildParser(y: Argv, wrap: (load: () => Promise<any>) => Handler): Argv {
  return y
    .scriptName('rnnx')
    .usage('$0 <command> [options]\n\nRecurrent neural networks for Node.js: train, export to ONNX, inspect, predict, generate, benchmark.')
    .option('verbose', { type: 'boolean', default: false, describe: 'Print stack traces with errors' })
    .command(
      'train [config]',
      'Train a model from a JSON config file and/or flags; writes the .onnx model, a JSON training log and an SVG loss curve',
      (b) =>
        b
          .positional('config', { type: 'string', describe: `JSON config file (schema: ${CONFIG_SCHEMA_PATH}; start one with rnnx init data.csv)` })
          .option('data', { type: 'string', describe: 'Data source: a .csv time series, a .txt text, or a .zip/folder of sequence CSVs [data.path]' })
          .options(configFlagOptions())
          .option('early-stopping', { type: 'boolean', describe: 'Early stopping on the validation rows (on by default for CSV forecasters; --no-early-stopping turns it off) [training.earlyStopping]' })
          .option('layers', { type: 'string', describe: 'Model layers, e.g. "lstm:32,dense:1" or "gru:64:bidirectional,dense:2:softmax"' })
          .option('quiet', { type: 'boolean', default: false, describe: 'No progress output' })
          .example('$0 init models/data/airline-passengers.csv -o out/airline/config.json', 'Start a config for a CSV series')
          .example('$0 train out/airline/config.json', 'Train it: writes out/airline/*.onnx, .log.json, .loss.svg')
          .example('$0 train models/airline/config.json -o out/airline.onnx', 'The shipped airline forecaster, written under out/')
          .example('$0 train --data models/data/airline-passengers.csv --columns Passengers --window 12 --transform log-difference --season 12 --test-rows 24 --validation-rows 12 --layers lstm:32,dense:1 -o out/air.onnx', 'Same task from flags')
          .epilog(`${configFieldsHelp()}\n\nTransforms: none, log, difference, log-difference. Losses: mse, mae, huber, crossentropy, binaryCrossentropy. Optimizers: adam, adamw, rmsprop, sgd.\nA CSV forecaster holds out the last rows for test (scored against persistence, seasonal naive and the training mean) and the rows before them for validation and early stopping.\n\n${EPILOG}`),
      wrap(() => import('./commands/train.js')),
    )
    .command(
      'init <data>',
      'Write a starting train config for a CSV series: columns, a transform the data allows, season, window, held-out rows, a small LSTM with early stopping',
      (b) =>
        b
          .positional('data', { type: 'string', demandOption: true, describe: 'A CSV time series (a header row, one row per step)' })
          .option('columns', { type: 'string', describe: 'Column to forecast (default: the first numeric column that is not a year or index counter)' })
          .option('season', { type: 'number', describe: 'Season length in rows (default: detected from the autocorrelation, or none)' })
          .option('out', { alias: 'o', type: 'string', describe: 'Config file to write (default: <data name>.config.json in the current folder; - for stdout)' })
          .option('force', { type: 'boolean', default: false, describe: 'Overwrite an existing config file' })
          .example('$0 init models/data/airline-passengers.csv -o out/airline/config.json', 'Then: rnnx train out/airline/config.json')
          .epilog(EPILOG),
      wrap(() => import('./commands/init.js')),
    )
    .command(
      'export <model> [out]',
      'Re-export an rnnx .onnx model with other options (stateful state inputs/outputs, sequence_lens, opset), or as a Triton model repository entry',
      (b) =>
        b
          .positional('model', { type: 'string', demandOption: true, describe: 'An .onnx file written by rnnx' })
          .positional('out', { type: 'string', describe: 'Output .onnx path (or give --triton DIR)' })
          .option('triton', { type: 'string', describe: 'Write DIR/<name>/config.pbtxt and DIR/<name>/1/model.onnx for Triton\'s ONNX Runtime backend (--stateful: sequence batching with implicit state)' })
          .option('name', { type: 'string', describe: 'Model name for --triton (default: the file name without .onnx)' })
          .option('max-batch', { type: 'number', describe: 'max_batch_size for --triton (default 64)' })
          .option('stateful', { type: 'boolean', default: false, describe: 'Add h0_k/c0_k inputs and hT_k/cT_k outputs' })
          .option('sequence-lens', { type: 'boolean', default: false, describe: 'Add the int32 sequence_lens [batch] input' })
          .option('opset', { type: 'number', default: 14, describe: 'ONNX opset (14 and up; the error names the supported range)' })
          .example('$0 export models/shakespeare/char-lstm.onnx gen.onnx --stateful', 'Stateful graph for step-by-step generation')
          .example('$0 export model.onnx padded.onnx --sequence-lens --opset 17', 'Variable-length batches, opset 17')
          .example('$0 export models/airline/airline.onnx --triton model_repository', 'Triton model repository entry')
          .epilog(EPILOG),
      wrap(() => import('./commands/export.js')),
    )
    .command(
      'inspect <file>',
      'Describe an ONNX file (rnnx or foreign, e.g. PyTorch nn.LSTM/nn.GRU exports): layers, directions, sizes, parameters, inputs/outputs, opset, metadata',
      (b) =>
        b
          .positional('file', { type: 'string', demandOption: true })
          .option('json', { type: 'boolean', default: false, describe: 'Print the description as JSON' })
          .example('$0 inspect models/airline/airline.onnx', 'Describe the shipped forecaster')
          .example('$0 inspect tests/fixtures/pytorch_lstm.onnx --json', 'A PyTorch export, as JSON')
          .epilog(EPILOG),
      wrap(() => import('./commands/inspect.js')),
    )
    .command(
      'predict <model>',
      'Run a model on CSV, JSON or NPY input; for a forecaster, an n-step recursive forecast with an SVG of history plus forecast',
      (b) =>
        b
          .positional('model', { type: 'string', demandOption: true })
          .option('input', { alias: 'i', type: 'string', demandOption: true, describe: 'Input: .csv (a series), .json (nested arrays) or .npy, [batch, time, features] or [time, features]' })
          .option('output', { alias: 'o', type: 'string', describe: 'Output file (.csv, .json or .npy); default stdout' })
          .option('columns', { type: 'string', describe: 'CSV input columns (default: those the model was trained on)' })
          .option('steps', { type: 'number', describe: 'Forecaster: steps to forecast past the end of the series (default: the horizon)' })
          .option('backtest', { type: 'number', describe: 'Forecaster: also predict the last N rows one step ahead; prints the RMSE, and -o gets rows (row, kind, actual, predicted) for the backtest and the forecast' })
          .option('plot', { type: 'string', describe: 'Forecaster: SVG of history plus forecast' })
          .option('raw', { type: 'boolean', default: false, describe: 'Skip the normalisation stored in the model' })
          .option('providers', PROVIDERS_OPTION)
          .option('provider', OLD_PROVIDER_OPTION)
          .example('$0 predict models/airline/airline.onnx -i models/data/airline-passengers.csv --steps 24 --plot out/forecast.svg', 'Forecast two years')
          .example('$0 predict --model models/airline/airline.onnx -i models/data/airline-passengers.csv --backtest 24 -o out/backtest.csv', 'Backtest rows (row, kind, actual, predicted) and the forecast')
          .example('$0 predict model.onnx -i x.npy -o y.npy', 'Tensor in, tensor out')
          .epilog(EPILOG),
      wrap(() => import('./commands/predict.js')),
    )
    .command(
      'generate <model>',
      'Sample text from a char-level model',
      (b) =>
        b
          .positional('model', { type: 'string', demandOption: true })
          .option('seed', { alias: 's', type: 'string', default: '\n', describe: 'Seed text the sample continues' })
          .option('length', { alias: 'n', type: 'number', default: 400, describe: 'Characters to generate' })
          .option('temperature', { alias: 't', type: 'number', default: 0.8, describe: 'Sampling temperature (> 0; lower is more conservative)' })
          .option('random-seed', { type: 'number', describe: 'Seed of the sampler (default: random)' })
          .option('output', { alias: 'o', type: 'string', describe: 'Write the text to a file instead of stdout' })
          .option('providers', PROVIDERS_OPTION)
          .example('$0 generate models/shakespeare/char-lstm.onnx --seed "ROMEO:" -n 300 -t 0.7', 'Continue a line')
          .epilog(EPILOG),
      wrap(() => import('./commands/generate.js')),
    )
    .command(
      'bench [model]',
      'Inference throughput and latency percentiles over batch sizes, threads and providers, plus training steps per second',
      (b) =>
        b
          .positional('model', { type: 'string', describe: 'An .onnx model (default: an LSTM I=64 H=256 built in memory)' })
          .option('batch', { type: 'string', default: '1,16,64', describe: 'Batch sizes, comma-separated' })
          .option('time', { type: 'number', default: 100, describe: 'Sequence length' })
          .option('threads', { type: 'string', default: '1,2', describe: 'ONNX Runtime intra-op thread counts' })
          .option('providers', PROVIDERS_OPTION)
          .option('iterations', { type: 'number', default: 20, describe: 'Timed runs per configuration' })
          .option('warmup', { type: 'number', default: 3 })
          .option('train-steps', { type: 'number', default: 5, describe: 'Timed training steps (0: skip training)' })
          .option('json', { type: 'string', describe: 'Also write the results as JSON to this file' })
          .example('$0 bench --batch 1,64 --threads 1,2', 'Default LSTM')
          .example('$0 bench models/airline/airline.onnx --time 12 --json bench.json', 'A shipped model')
          .epilog(EPILOG),
      wrap(() => import('./commands/bench.js')),
    )
    .command(
      'serve <model..>',
      'Serve models over HTTP (Open Inference Protocol v2) with dynamic batching (prints {"listening": url} once bound; SIGTERM drains)',
      (b) =>
        b
          .positional('model', { type: 'string', array: true, demandOption: true, describe: '.onnx files, or a Triton-style repository folder (<name>/<version>/model.onnx)' })
          .option('token-file', { type: 'string', describe: 'Require "Authorization: Bearer <token>", the token on this file\'s first line (or set RNNX_SERVE_TOKEN)' })
          .option('state-key-file', { type: 'string', describe: 'HMAC key of client-carried stream state, shared by replicas (or set RNNX_STATE_KEY)' })
          .option('port', { type: 'number', default: 8080 })
          .option('host', { type: 'string', default: '127.0.0.1' })
          .option('providers', PROVIDERS_OPTION)
          .option('provider', OLD_PROVIDER_OPTION)
          // The tuning flags src/serve/main.ts takes too (one table); strings, checked by commands/serve.ts.
          .options(Object.fromEntries(SERVE_FLAGS.map((f) => [f.flag, { type: 'string' as const, describe: f.describe }])))
          .example('$0 serve models/airline/airline.onnx --port 8080', 'Serve the forecaster')
          .example('$0 serve models/shakespeare/char-lstm.onnx --port 0 --workers 2', 'Any free port, two worker threads')
          .epilog(EPILOG),
      wrap(() => import('./commands/serve.js')),
    )
    .command(
      'quickstart',
      'Train the airline forecaster, export it, predict with onnxruntime-node, compare with naive baselines and plot',
      (b) =>
        b
          .option('out', { type: 'string', default: 'quickstart-output', describe: 'Output folder' })
          .option('epochs', { type: 'number', describe: 'Override the epochs of models/airline/config.json' })
          .example('$0 quickstart', 'The README one-liner runs this')
          .epilog(EPILOG),
      wrap(() => import('./commands/quickstart.js')),
    )
    .demandCommand(1, 'Give a command: init, train, export, inspect, predict, generate, bench, serve or quickstart')
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .option('version', { type: 'boolean', describe: 'Print the rnnx version and exit' })
    .wrap(Math.min(110, process.stdout.columns || 100))
    .epilog(EPILOG)
    .fail(false)
    .exitProcess(false);
}
