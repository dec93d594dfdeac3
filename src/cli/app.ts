// The yargs definition of every rnnx command. Handlers are imported lazily so that `rnnx inspect`
// does not pay for loading ONNX Runtime or the native trainer.

import yargs, { type Argv } from 'yargs';
import { EXIT_OK, EXIT_USER, reportError } from './errors.js';
import { SERVE_FLAGS } from '../serve/flags.js';

type Handler = (argv: Record<string, unknown>) => Promise<void> | void;

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
    const mod = await load();
    await (typeof mod === 'function' ? mod : mod.default)(argv);
  };
  const parser = buildParser(yargs(args), wrap);
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
          .positional('config', { type: 'string', describe: 'JSON config file (see models/*/config.json)' })
          .option('data', { type: 'string', describe: 'Data source: a .csv time series, a .txt text, or a .zip/folder of sequence CSVs' })
          .option('columns', { type: 'string', describe: 'CSV input columns, comma-separated names or 0-based indices' })
          .option('target-columns', { type: 'string', describe: 'CSV target columns (default: the input columns)' })
          .option('window', { type: 'number', describe: 'Window / sequence length T' })
          .option('stride', { type: 'number', describe: 'Steps between window starts' })
          .option('horizon', { type: 'number', describe: 'Forecast horizon h (CSV)' })
          .option('layers', { type: 'string', describe: 'Model layers, e.g. "lstm:32,dense:1" or "gru:64:bidirectional,dense:2:softmax"' })
          .option('epochs', { type: 'number' })
          .option('batch-size', { type: 'number' })
          .option('lr', { type: 'number', describe: 'Learning rate' })
          .option('optimizer', { type: 'string', choices: ['adam', 'adamw', 'rmsprop', 'sgd'] })
          .option('loss', { type: 'string', choices: ['mse', 'mae', 'huber', 'crossentropy', 'binaryCrossentropy'] })
          .option('seed', { type: 'number' })
          .option('out', { alias: 'o', type: 'string', describe: 'Output .onnx path (the log and plot go beside it)' })
          .option('log', { type: 'string', describe: 'Training log path (default: <out>.log.json)' })
          .option('plot', { type: 'string', describe: 'Loss-curve SVG path (default: <out>.loss.svg)' })
          .option('quiet', { type: 'boolean', default: false, describe: 'No progress output' })
          .example('$0 train models/airline/config.json', 'Reproduce the shipped airline forecaster')
          .example('$0 train --data models/data/airline-passengers.csv --columns Passengers --window 12 --layers lstm:32,dense:1 --epochs 200 -o air.onnx', 'Same task from flags')
          .epilog(EPILOG),
      wrap(() => import('./train.js')),
    )
    .command(
      'export <model> <out>',
      'Re-export an rnnx .onnx model with other options (stateful state inputs/outputs, sequence_lens, opset)',
      (b) =>
        b
          .positional('model', { type: 'string', demandOption: true, describe: 'An .onnx file written by rnnx' })
          .positional('out', { type: 'string', demandOption: true, describe: 'Output .onnx path' })
          .option('stateful', { type: 'boolean', default: false, describe: 'Add h0_k/c0_k inputs and hT_k/cT_k outputs' })
          .option('sequence-lens', { type: 'boolean', default: false, describe: 'Add the int32 sequence_lens [batch] input' })
          .option('opset', { type: 'number', default: 14, describe: 'ONNX opset (14 and up; the error names the supported range)' })
          .example('$0 export models/shakespeare/char-lstm.onnx gen.onnx --stateful', 'Stateful graph for step-by-step generation')
          .example('$0 export model.onnx padded.onnx --sequence-lens --opset 17', 'Variable-length batches, opset 17')
          .epilog(EPILOG),
      wrap(() => import('./export.js')),
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
      wrap(() => import('./inspect-command.js')),
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
          .option('backtest', { type: 'number', describe: 'Forecaster: also predict the last N rows one step ahead and print the RMSE' })
          .option('plot', { type: 'string', describe: 'Forecaster: SVG of history plus forecast' })
          .option('raw', { type: 'boolean', default: false, describe: 'Skip the normalisation stored in the model' })
          .option('provider', { type: 'string', default: 'cpu', describe: 'Execution providers, comma-separated (cpu, cuda, webgpu)' })
          .example('$0 predict models/airline/airline.onnx -i models/data/airline-passengers.csv --steps 24 --plot forecast.svg', 'Forecast two years')
          .example('$0 predict model.onnx -i x.npy -o y.npy', 'Tensor in, tensor out')
          .epilog(EPILOG),
      wrap(() => import('./predict.js')),
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
          .example('$0 generate models/shakespeare/char-lstm.onnx --seed "ROMEO:" -n 300 -t 0.7', 'Continue a line')
          .epilog(EPILOG),
      wrap(() => import('./generate.js')),
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
          .option('providers', { type: 'string', default: 'cpu', describe: 'Execution providers to try' })
          .option('iterations', { type: 'number', default: 20, describe: 'Timed runs per configuration' })
          .option('warmup', { type: 'number', default: 3 })
          .option('train-steps', { type: 'number', default: 5, describe: 'Timed training steps (0: skip training)' })
          .option('json', { type: 'string', describe: 'Also write the results as JSON to this file' })
          .example('$0 bench --batch 1,64 --threads 1,2', 'Default LSTM')
          .example('$0 bench models/airline/airline.onnx --time 12 --json bench.json', 'A shipped model')
          .epilog(EPILOG),
      wrap(() => import('./bench-command.js')),
    )
    .command(
      'serve <model>',
      'Serve a model over HTTP with dynamic batching (prints {"listening": url} once bound; SIGTERM drains)',
      (b) =>
        b
          .positional('model', { type: 'string', demandOption: true })
          .option('port', { type: 'number', default: 8080 })
          .option('host', { type: 'string', default: '127.0.0.1' })
          .option('provider', { type: 'string', default: 'cpu', describe: 'Execution providers in order of preference (cpu, cuda, webgpu)' })
          // The tuning flags src/serve/main.ts takes too (one table); strings, checked by serve-command.
          .options(Object.fromEntries(SERVE_FLAGS.map((f) => [f.flag, { type: 'string' as const, describe: f.describe }])))
          .example('$0 serve models/airline/airline.onnx --port 8080', 'Serve the forecaster')
          .example('$0 serve models/shakespeare/char-lstm.onnx --port 0 --workers 2', 'Any free port, two worker threads')
          .epilog(EPILOG),
      wrap(() => import('./serve-command.js')),
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
      wrap(() => import('./quickstart.js')),
    )
    .demandCommand(1, 'Give a command: train, export, inspect, predict, generate, bench, serve or quickstart')
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
