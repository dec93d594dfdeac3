// `rnnx bench [MODEL] --batch 1,16,64 --threads 1,2 --providers cpu [--json out.json]`.
import { readBytes } from '../../data/files.js';
import { UserError } from '../../data/errors.js';
import { benchInference, benchModelBytes, inferenceTable, type InferBenchResult } from '../../bench/inference.js';
import { benchTraining, trainingTable, type TrainBenchResult } from '../../bench/training.js';
import { checkWritable, writeOutput } from '../output.js';
import { providersArg } from '../providers.js';
import { loadRnnxModel } from '../model-file.js';

function intList(flag: string, v: unknown): number[] {
  const list = String(v).split(',').map((s) => Number(s.trim()));
  for (const n of list) if (!Number.isInteger(n) || n <= 0) throw new UserError(`--${flag} must be positive integers separated by commas, got ${JSON.stringify(String(v))}`);
  return list;
}

export default async function bench(argv: Record<string, unknown>): Promise<void> {
  const json = argv.json === undefined ? undefined : String(argv.json);
  if (json) checkWritable(json);
  const modelPath = argv.model === undefined ? undefined : String(argv.model);
  const bytes = modelPath ? readBytes(modelPath) : benchModelBytes();
  const time = intList('time', argv.time ?? 100)[0];
  const iterations = intList('iterations', argv.iterations ?? 20)[0];
  const warmup = Number(argv.warmup ?? 3);
  const providers = providersArg(argv);
  const label = modelPath ?? 'LSTM I=64 H=256 (built in memory)';
  process.stderr.write(`benchmarking ${label}: T=${time}, ${iterations} runs per configuration\n`);
  let inference: InferBenchResult[];
  try {
    inference = await benchInference({ model: bytes, batches: intList('batch', argv.batch ?? '1,16,64'), threads: intList('threads', argv.threads ?? '1,2'), providers, time, iterations, warmup });
  } catch (e) {
    if (modelPath) throw new UserError(`${modelPath}: ${(e as Error).message}`, { cause: e });
    throw e;
  }
  process.stdout.write('inference (ONNX Runtime)\n' + inferenceTable(inference) + '\n');
  const trainSteps = Number(argv['train-steps'] ?? 5);
  let training: TrainBenchResult[] = [];
  if (trainSteps > 0) {
    const model = modelPath ? loadRnnxModel(modelPath) : undefined;
    training = await benchTraining({ model, batches: intList('batch', argv.batch ?? '1,16,64'), time, steps: trainSteps });
    process.stdout.write('\ntraining (rnnx native trainer)\n' + trainingTable(training) + '\n');
  }
  if (json) {
    writeOutput(json, JSON.stringify({ model: label, time, iterations, inference, training }, null, 2) + '\n');
    process.stderr.write(`wrote ${json}\n`);
  }
}
