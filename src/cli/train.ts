// `rnnx train [config.json] [flags]`: prepares the data (src/data), builds the model, runs the
// native trainer's `fit`, then writes the .onnx model, a JSON training log and an SVG loss curve,
// and evaluates the exported file with ONNX Runtime on the held-out split.

import { basename, dirname, join } from 'node:path';
import { toOnnx } from '../graph/export.js';
import { normalizeModelSpec } from '../layers/spec.js';
import { Model } from '../model/model.js';
import { InferenceModel } from '../runtime/inference.js';
import { UserError } from '../data/errors.js';
import { parseLayers, prepareData, readConfig, validateConfig, type PreparedData, type TrainConfig } from './config.js';
import { userInput } from './errors.js';
import { backtest, naiveForecasts, rmse } from './forecast.js';
import { checkWritable, writeOutput } from './output.js';
import { Progress, type EpochStats } from './progress.js';
import { linePlot } from './svg.js';
import type { FitHooks } from './fit.js';
import { isPretrainedConfig, loadPretrained, type PretrainedDataNeeds } from './pretrained.js';
import type { LayerSpec } from '../layers/spec.js';

const split = (v: unknown) => String(v).split(',').map((s) => s.trim()).filter(Boolean);

/** Config from the file (if any) with flags applied over it. */
export function configFromArgs(argv: Record<string, unknown>): { config: TrainConfig; where: string } {
  const where = argv.config ? String(argv.config) : 'flags';
  const c: TrainConfig = argv.config
    ? readConfig(String(argv.config))
    : ({ data: {} as TrainConfig['data'], model: { layers: [] }, training: {}, output: { model: '' } } as TrainConfig);
  c.training ??= {};
  c.output ??= { model: '' };
  const d = (c.data ??= {} as TrainConfig['data']) as unknown as Record<string, unknown>;
  if (argv.data !== undefined) {
    const p = String(argv.data);
    d.path = p;
    if (!argv.config || d.kind === undefined) {
      d.kind = /\.csv$/i.test(p) ? 'csv' : /\.(txt|text)$/i.test(p) ? 'text' : 'sequences';
    }
  }
  if (argv.columns !== undefined) d.columns = split(argv.columns);
  if (argv['target-columns'] !== undefined) d.targetColumns = split(argv['target-columns']);
  if (argv.window !== undefined) d[d.kind === 'text' ? 'time' : 'window'] = Number(argv.window);
  if (argv.stride !== undefined) d.stride = Number(argv.stride);
  if (argv.horizon !== undefined) d.horizon = Number(argv.horizon);
  if (argv.layers !== undefined) c.model = { layers: parseLayers(String(argv.layers)) };
  const t = c.training;
  if (argv.epochs !== undefined) t.epochs = Number(argv.epochs);
  if (argv['batch-size'] !== undefined) t.batchSize = Number(argv['batch-size']);
  if (argv.seed !== undefined) t.seed = Number(argv.seed);
  if (argv.loss !== undefined) t.loss = String(argv.loss);
  if (argv.optimizer !== undefined || argv.lr !== undefined) {
    const prev = (t.optimizer ?? {}) as Record<string, unknown>;
    t.optimizer = { ...prev, type: argv.optimizer ?? prev.type ?? 'adam', ...(argv.lr !== undefined ? { lr: Number(argv.lr) } : {}) };
  }
  if (argv.out !== undefined) c.output.model = String(argv.out);
  if (argv.log !== undefined) c.output.log = String(argv.log);
  if (argv.plot !== undefined) c.output.plot = String(argv.plot);
  if (!argv.config) {
    if (argv.data === undefined) throw new UserError('train needs a config file or --data (see rnnx train --help)');
    if (argv.layers === undefined) throw new UserError('train needs --layers without a config file, e.g. --layers lstm:32,dense:1');
    if (argv.out === undefined) throw new UserError('train needs --out (the .onnx file to write) without a config file');
  }
  validateConfig(c, where);
  return { config: c, where };
}

function defaultLoss(data: PreparedData, lastActivation: string | undefined): string {
  if (data.kind === 'csv') return 'mse';
  return lastActivation === 'sigmoid' ? 'binaryCrossentropy' : 'crossentropy';
}

export interface Evaluation {
  [key: string]: number | string;
}

/** Evaluates the exported bytes with ONNX Runtime on the held-out split. */
async function evaluate(bytes: Uint8Array, data: PreparedData, season: number): Promise<Evaluation> {
  const session = await InferenceModel.open(bytes, { providers: ['cpu'] });
  try {
    if (data.forecast && data.forecast.testRows > 0) {
      const { info, series, testRows } = data.forecast;
      const meta = session.metadata!;
      const bt = await backtest(session, series, info, testRows, { input: meta.inputNormalization, target: meta.targetNormalization });
      const j = series.names.indexOf(info.targetColumns[0]);
      const naive = naiveForecasts(series, j, bt.rows, season);
      return {
        split: `last ${testRows} rows (one-step-ahead)`,
        rmse: rmse(bt.predicted, bt.actual),
        persistenceRmse: rmse(naive.persistence, bt.actual),
        seasonalNaiveRmse: rmse(naive.seasonal, bt.actual),
        season,
      };
    }
    const v = data.validation;
    if (!v) return {};
    const out: Evaluation = {};
    let correct = 0;
    let nll = 0;
    let steps = 0;
    const B = 64;
    for (let start = 0; start < v.count; start += B) {
      const n = Math.min(B, v.count - start);
      const x = v.x.subarray(start * v.time * v.features, (start + n) * v.time * v.features);
      const lens = session.hasSequenceLens && v.lengths ? { sequenceLens: v.lengths.subarray(start, start + n) } : {};
      const r = await session.run(x, { batch: n, time: v.time, ...lens });
      const F = r.dims[r.dims.length - 1];
      const rows = r.y.length / F;
      const perSeq = rows / n;
      for (let k = 0; k < rows; k++) {
        const label = (v.y as Int32Array)[start * perSeq + k];
        const p = r.y.subarray(k * F, (k + 1) * F);
        let arg = 0;
        for (let c = 1; c < F; c++) if (p[c] > p[arg]) arg = c;
        if (arg === label) correct++;
        nll -= Math.log(Math.max(p[label], 1e-12));
        steps++;
      }
    }
    out.split = data.kind === 'text' ? 'last 5% of the text' : String(data.metadata.extra?.split ?? 'validation');
    out.accuracy = correct / steps;
    out.crossEntropy = nll / steps;
    if (data.kind === 'text') out.bitsPerChar = out.crossEntropy / Math.LN2;
    else {
      const counts = new Map<number, number>();
      for (const c of v.y as Int32Array) counts.set(c, (counts.get(c) ?? 0) + 1);
      out.majorityBaselineAccuracy = Math.max(...counts.values()) / v.count;
    }
    return out;
  } finally {
    await session.release();
  }
}

export default async function train(argv: Record<string, unknown>): Promise<void> {
  const { config, where } = configFromArgs(argv);
  const out = config.output.model;
  const logPath = config.output.log ?? join(dirname(out), basename(out).replace(/\.onnx$/i, '') + '.log.json');
  const plotPath = config.output.plot ?? join(dirname(out), basename(out).replace(/\.onnx$/i, '') + '.loss.svg');
  for (const p of [out, logPath, plotPath]) checkWritable(p);
  const quiet = Boolean(argv.quiet);
  const say = (s: string) => quiet || process.stderr.write(s + '\n');

  const t0 = Date.now();
  const data = withConfigName(where, () => prepareData(config.data, Number(config.training.batchSize ?? 32)));
  if (config.data.kind === 'text' && config.data.layout === 'stateful') {
    config.training.stateful = true;
    config.training.shuffle = false;
  }
  say(data.summary);
  const training = { ...config.training };
  const seed = Number(training.seed ?? 1);
  const model = isPretrainedConfig(config.model) ? loadPretrained(config.model.from, pretrainedNeeds(data), where) : createModel(config.model.layers, data, where, seed);
  const spec = model.spec;
  const last = spec.layers[spec.layers.length - 1];
  training.loss ??= defaultLoss(data, last.kind === 'dense' ? last.activation : undefined);
  if (isPretrainedConfig(config.model)) say(`fine-tuning ${config.model.from}${model.metadata.extra?.['import.producer'] ? ` (imported from ${model.metadata.extra['import.producer']})` : ''}`);
  say(`model: ${spec.layers.map((l) => `${l.kind}(${l.units}${l.kind !== 'dense' && l.direction !== 'forward' ? ', ' + l.direction : ''}${l.kind === 'dense' && l.activation !== 'none' ? ', ' + l.activation : ''})`).join(' → ')}; ${model.parameterCount} parameters`);

  const epochs = Number(training.epochs ?? 10);
  const batchSize = Number(training.batchSize ?? 32);
  const stepsPerEpoch = Math.ceil(data.train.count / batchSize);
  const progress = new Progress(epochs, stepsPerEpoch, Boolean(process.stderr.isTTY), (s) => process.stderr.write(s), quiet);
  const epochLog: EpochStats[] = [];
  const tTrain = Date.now();
  // Loaded only now: the native trainer is not needed to reject bad data.
  const { runFit } = await import('./fit.js');
  const hooks: FitHooks = {
    epochBegin: () => progress.epochBegin(),
    batch: (epoch, step, loss) => progress.batch(epoch, step, loss),
    epochEnd: (s) => {
      epochLog.push(s);
      progress.epochEnd(s);
    },
  };
  const history = await runFit(model, data.train, data.validation, { ...training, epochs, batchSize }, hooks, where);
  const trainSeconds = (Date.now() - tTrain) / 1000;
  if (!Number.isFinite(epochLog[epochLog.length - 1]?.loss ?? 0)) throw new UserError('training diverged (non-finite loss); lower the learning rate or set training.clipNorm');

  // Variable-length data needs sequence_lens at inference, or padding would run through the
  // network: on by default for sequence data; the evaluation graph always has it when lengths exist.
  const exportOptions = { ...(config.output.export ?? {}) };
  if (data.kind === 'sequences') exportOptions.sequenceLens ??= true;
  const evalBytes = userInput(`${where}: output.export`, () => toOnnx(model, { ...exportOptions, stateful: false, sequenceLens: exportOptions.sequenceLens || !!data.validation?.lengths }));
  const evaluation = await evaluate(evalBytes, data, Number((config.data as { season?: number }).season ?? 12));
  model.metadata.extra = { ...model.metadata.extra, trainingSeconds: trainSeconds.toFixed(1), ...Object.fromEntries(Object.entries(evaluation).map(([k, v]) => [`eval.${k}`, typeof v === 'number' ? v.toPrecision(6) : v])) };
  const finalBytes = toOnnx(model, exportOptions);

  const log = {
    name: config.name ?? basename(out),
    command: `rnnx train ${process.argv.slice(3).join(' ')}`.trim(),
    data: data.summary,
    model: spec,
    parameters: model.parameterCount,
    training: { ...training, epochs, batchSize },
    epochs: epochLog.length ? epochLog : history,
    trainingSeconds: trainSeconds,
    totalSeconds: (Date.now() - t0) / 1000,
    evaluation,
    files: { model: out, log: logPath, plot: plotPath },
    finishedAt: new Date().toISOString(),
  };
  const epochsX = epochLog.map((e) => e.epoch + 1);
  const series = [{ name: 'training loss', x: epochsX, y: epochLog.map((e) => e.loss) }];
  if (epochLog.some((e) => e.valLoss !== undefined)) series.push({ name: 'validation loss', x: epochsX, y: epochLog.map((e) => e.valLoss ?? NaN) });
  const svg = linePlot(series, { title: `${basename(out)}: loss (${String(training.loss)}) per epoch`, xLabel: 'epoch', yLabel: 'loss', logY: true });
  writeOutput(out, finalBytes);
  writeOutput(logPath, JSON.stringify(log, null, 2) + '\n');
  writeOutput(plotPath, svg);
  const evalText = Object.entries(evaluation).map(([k, v]) => `${k} ${typeof v === 'number' ? +v.toPrecision(5) : v}`).join(', ');
  process.stdout.write(`trained in ${trainSeconds.toFixed(1)}s; ${evalText}\nwrote ${out}, ${logPath}, ${plotPath}\n`);
}

function createModel(configLayers: Record<string, unknown>[] | LayerSpec[], data: PreparedData, where: string, seed: number): Model {
  // "units": "vocab" / "classes" in a config follow the data (vocabulary size, class count).
  const layers = (configLayers as Record<string, unknown>[]).map((l) => {
    if (l.units === 'vocab') return { ...l, units: data.metadata.vocabulary?.length ?? l.units };
    if (l.units === 'classes') return { ...l, units: data.classes?.length ?? l.units };
    return l;
  });
  const spec = userInput(`${where}: model`, () => normalizeModelSpec({ inputSize: data.inputSize, layers }));
  return Model.create(spec, { seed, metadata: data.metadata });
}

function pretrainedNeeds(data: PreparedData): PretrainedDataNeeds {
  const labels = data.train.y instanceof Int32Array;
  return { inputSize: data.inputSize, yShape: data.train.yShape, labels, classes: data.classes?.length ?? data.metadata.vocabulary?.length, metadata: data.metadata };
}

/** Names the config file in errors about its own fields ("data.window must be ..."), as validateConfig does. */
function withConfigName<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (where !== 'flags' && e instanceof UserError && /^data\./.test(e.message)) throw new UserError(`${where}: ${e.message}`);
    throw e;
  }
}
