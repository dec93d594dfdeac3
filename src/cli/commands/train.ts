// `rnnx train [config.json] [flags]`: prepares the data (src/data), builds the model, runs the
// native trainer's `fit`, then writes the .onnx model, a JSON training log and an SVG loss curve,
// and evaluates the exported file with ONNX Runtime on the held-out split.

import { basename, dirname, join } from 'node:path';
import { toOnnx } from '../../graph/export.js';
import { normalizeModelSpec, type ModelSpec } from '../../layers/spec.js';
import { Model } from '../../model/model.js';
import { InferenceModel } from '../../runtime/inference.js';
import { UserError } from '../../data/errors.js';
import { CONFIG_FLAGS, DEFAULT_PATIENCE, parseLayers, prepareData, readConfig, validateConfig, type PreparedData, type TrainConfig } from '../config.js';
import { userInput } from '../errors.js';
import { backtest, naiveForecasts, rmse } from '../forecast.js';
import type { Series } from '../../data/timeseries.js';
import type { EarlyStoppingOptions, History } from '../../train/index.js';
import { formatTable } from '../output.js';
import { checkWritable, writeOutput } from '../output.js';
import { Progress, type EpochStats } from '../progress.js';
import { linePlot } from '../svg.js';
import type { TrainingHooks } from '../run-training.js';
import { isPretrainedConfig, loadPretrained, type PretrainedDataNeeds } from '../pretrained.js';

const split = (v: unknown) => String(v).split(',').map((s) => s.trim()).filter(Boolean);

/** A flag's text as a number when it is one; otherwise the text, so that the schema error shows what was typed. */
function flagNumber(v: unknown): unknown {
  const t = String(v).trim();
  return t !== '' && Number.isFinite(Number(t)) ? Number(t) : t;
}

function setPath(o: Record<string, unknown>, path: string, v: unknown): void {
  const keys = path.split('.');
  let node = o;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    node = (node[k] = next !== null && typeof next === 'object' && !Array.isArray(next) ? next : {}) as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = v;
}

/** Config from the file (if any) with flags applied over it, validated as a whole against the schema. */
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
  const flagged: Record<string, string> = {};
  for (const f of CONFIG_FLAGS) {
    const v = argv[f.flag];
    if (v === undefined) continue;
    let path = f.path;
    if (f.flag === 'window' && d.kind === 'text') path = 'data.time';
    if (f.path.startsWith('training.optimizer.')) {
      const prev = c.training.optimizer;
      c.training.optimizer = { type: 'adam', ...(prev !== null && typeof prev === 'object' ? prev : {}) };
    }
    const value = f.type === 'list' ? split(v) : f.type === 'number' ? flagNumber(v) : f.type === 'boolean' ? Boolean(v) : String(v);
    setPath(c as unknown as Record<string, unknown>, path, value);
    flagged[path] = f.flag;
  }
  if (argv.layers !== undefined) {
    c.model = { layers: parseLayers(String(argv.layers)) };
    flagged['model.layers'] = 'layers';
  }
  if (argv['early-stopping'] === false) c.training.earlyStopping = false;
  if (!argv.config) {
    if (argv.data === undefined) throw new UserError('train needs a config file or --data (see rnnx train --help)');
    if (argv.layers === undefined) throw new UserError('train needs --layers without a config file, e.g. --layers lstm:32,dense:1');
    if (argv.out === undefined) throw new UserError('train needs --out (the .onnx file to write) without a config file');
  }
  validateConfig(c, where, flagged);
  return { config: c, where };
}

function defaultLoss(data: PreparedData, lastActivation: string | undefined): string {
  if (data.kind === 'csv') return 'mse';
  return lastActivation === 'sigmoid' ? 'binaryCrossentropy' : 'crossentropy';
}

export interface Evaluation {
  [key: string]: number | string | boolean | BaselineRow[];
}

/** One row of the held-out comparison: a forecaster and its one-step-ahead errors on the test rows. */
export interface BaselineRow {
  name: string;
  rmse: number;
  mae: number;
}

function mae(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/**
 * The naive forecasts of the held-out rows a forecaster must beat: persistence (the previous
 * row), seasonal naive (the row one season back, when a season is set) and the mean of the
 * training rows (level rows before the validation and test rows).
 */
export function baselineForecasts(series: Series, column: number, rows: number[], trainRows: number, season?: number): { name: string; predicted: Float64Array }[] {
  const naive = naiveForecasts(series, column, rows, season ?? 1);
  const k = series.names.length;
  let sum = 0;
  for (let r = 0; r < trainRows; r++) sum += series.values[r * k + column];
  const mean = sum / trainRows;
  return [
    { name: 'persistence (previous row)', predicted: naive.persistence },
    ...(season ? [{ name: `seasonal naive (${season} rows back)`, predicted: naive.seasonal }] : []),
    { name: 'training mean', predicted: new Float64Array(rows.length).fill(mean) },
  ];
}

/** Evaluates the exported bytes with ONNX Runtime on the held-out split. */
async function evaluate(bytes: Uint8Array, data: PreparedData, modelName: string): Promise<Evaluation> {
  const session = await InferenceModel.open(bytes, { providers: ['cpu'] });
  try {
    if (data.forecast && data.forecast.testRows > 0) {
      const { info, series, testRows, validationRows, season } = data.forecast;
      const meta = session.metadata!;
      const bt = await backtest(session, series, info, testRows, { input: meta.inputNormalization, target: meta.targetNormalization });
      const j = series.names.indexOf(info.targetColumns[0]);
      const baselines = baselineForecasts(series, j, bt.rows, series.rows - testRows - validationRows, season);
      const table: BaselineRow[] = [
        { name: modelName, rmse: rmse(bt.predicted, bt.actual), mae: mae(bt.predicted, bt.actual) },
        ...baselines.map((b) => ({ name: b.name, rmse: rmse(b.predicted, bt.actual), mae: mae(b.predicted, bt.actual) })),
      ];
      const best = table.slice(1).reduce((a, b) => (b.rmse < a.rmse ? b : a));
      const out: Evaluation = {
        split: `last ${testRows} rows (one-step-ahead)`,
        rmse: table[0].rmse,
        mae: table[0].mae,
        persistenceRmse: table[1].rmse,
      };
      if (season) {
        out.seasonalNaiveRmse = table[2].rmse;
        out.season = season;
      }
      out.trainingMeanRmse = table[table.length - 1].rmse;
      out.bestBaseline = best.name;
      out.beatsBaselines = table[0].rmse < best.rmse;
      out.table = table;
      return out;
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
  // "model": {"from": ...}: fine-tune that file (rnnx's or an imported one) instead of creating a model.
  const pretrained = isPretrainedConfig(config.model) ? loadPretrained(config.model.from, pretrainedNeeds(data), where) : null;
  // "units": "vocab" / "classes" in a config follow the data (vocabulary size, class count).
  const layers = pretrained ? [] : (config.model.layers as Record<string, unknown>[]).map((l) => {
    if (l.units === 'vocab') return { ...l, units: data.metadata.vocabulary?.length ?? l.units };
    if (l.units === 'classes') return { ...l, units: data.classes?.length ?? l.units };
    return l;
  });
  const spec = pretrained ? pretrained.spec : userInput(`${where}: model`, () => normalizeModelSpec({ inputSize: data.inputSize, layers }));
  const training: Record<string, unknown> = { ...config.training };
  const last = spec.layers[spec.layers.length - 1];
  training.loss ??= defaultLoss(data, last.kind === 'dense' ? last.activation : undefined);
  // Forecasters stop on the validation rows and keep the best epoch unless told otherwise.
  const forecaster = data.kind === 'csv';
  const esDefaulted = forecaster && !!data.validation && training.earlyStopping === undefined;
  if (esDefaulted) training.earlyStopping = { patience: DEFAULT_PATIENCE, restoreBestWeights: true };
  if (training.earlyStopping === false) delete training.earlyStopping;
  const seed = Number(training.seed ?? 1);
  const model = pretrained ?? createModel(spec, seed, data, where);
  if (pretrained) say(`fine-tuning ${config.model.from}${model.metadata.extra?.['import.producer'] ? ` (imported from ${model.metadata.extra['import.producer']})` : ''}`);
  say(`model: ${describeSpec(spec)}; ${model.parameterCount} parameters`);

  const epochs = Number(training.epochs ?? (forecaster ? 100 : 10));
  const batchSize = Number(training.batchSize ?? 32);
  const stepsPerEpoch = Math.ceil(data.train.count / batchSize);
  const progress = new Progress(epochs, stepsPerEpoch, Boolean(process.stderr.isTTY), (s) => process.stderr.write(s), quiet);
  const epochLog: EpochStats[] = [];
  const tTrain = Date.now();
  // Loaded only now: the native trainer is not needed to reject bad data.
  const { runTraining } = await import('../run-training.js');
  const hooks: TrainingHooks = {
    epochBegin: () => progress.epochBegin(),
    batch: (epoch, step, loss) => progress.batch(epoch, step, loss),
    epochEnd: (s) => {
      epochLog.push(s);
      progress.epochEnd(s);
    },
  };
  const history = await runTraining(model, data.train, data.validation, { ...training, epochs, batchSize }, hooks, where);
  const trainSeconds = (Date.now() - tTrain) / 1000;
  if (!Number.isFinite(epochLog[epochLog.length - 1]?.loss ?? 0)) throw new UserError('training diverged (non-finite loss); lower the learning rate or set training.clipNorm');
  const stop = stopReport(history, epochs, training.earlyStopping as EarlyStoppingOptions | undefined, esDefaulted);

  // Variable-length data needs sequence_lens at inference, or padding would run through the
  // network: on by default for sequence data; the evaluation graph always has it when lengths exist.
  const exportOptions = { ...(config.output.export ?? {}) };
  if (data.kind === 'sequences') exportOptions.sequenceLens ??= true;
  const evalBytes = userInput(`${where}: output.export`, () => toOnnx(model, { ...exportOptions, stateful: false, sequenceLens: exportOptions.sequenceLens || !!data.validation?.lengths }));
  const evaluation = await evaluate(evalBytes, data, `rnnx ${describeSpec(spec)}`);
  const scalars = Object.entries(evaluation).filter(([, v]) => typeof v !== 'object');
  model.metadata.extra = { ...model.metadata.extra, trainingSeconds: trainSeconds.toFixed(1), ...Object.fromEntries(scalars.map(([k, v]) => [`eval.${k}`, typeof v === 'number' ? v.toPrecision(6) : String(v)])) };
  const finalBytes = toOnnx(model, exportOptions);

  const log = {
    name: config.name ?? basename(out),
    command: `rnnx train ${process.argv.slice(3).join(' ')}`.trim(),
    data: data.summary,
    model: spec,
    parameters: model.parameterCount,
    training: { ...training, epochs, batchSize },
    epochs: epochLog.length ? epochLog : history,
    stop: stop.record,
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
  process.stdout.write(`trained in ${trainSeconds.toFixed(1)}s: ${stop.text}\n${evaluationText(evaluation)}wrote ${out}, ${logPath}, ${plotPath}\n`);
}

function describeSpec(spec: ModelSpec): string {
  return spec.layers.map((l) => `${l.kind}(${l.units}${l.kind !== 'dense' && l.direction !== 'forward' ? ', ' + l.direction : ''}${l.kind === 'dense' && l.activation !== 'none' ? ', ' + l.activation : ''})`).join(' → ');
}

function pretrainedNeeds(data: PreparedData): PretrainedDataNeeds {
  const labels = data.train.y instanceof Int32Array;
  return { inputSize: data.inputSize, yShape: data.train.yShape, labels, classes: data.classes?.length ?? data.metadata.vocabulary?.length, metadata: data.metadata };
}

/** Model.create, with an allocation too large for memory reported as the config's fault. */
function createModel(spec: ModelSpec, seed: number, data: PreparedData, where: string): Model {
  try {
    return Model.create(spec, { seed, metadata: data.metadata });
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`${where}: model.layers: ${describeSpec(spec)} is too large to allocate (${e.message}); use fewer units`, { cause: e });
    throw e;
  }
}

/** How training ended, in one line and as a log record ("stopped at epoch 27: no improvement for 10 epochs; restored epoch 17"). */
export function stopReport(h: History, epochs: number, es: EarlyStoppingOptions | undefined, defaulted: boolean): { text: string; record: Record<string, unknown> } {
  const ran = h.epochs.length;
  const best = h.bestEpoch + 1;
  const patience = Math.max(1, es?.patience ?? 0);
  const monitor = es?.monitor ?? (h.valLoss.length ? 'valLoss' : 'loss');
  const monitored = monitor === 'valLoss' ? 'validation loss' : 'training loss';
  let text: string;
  if (h.stoppedEarly) text = `stopped at epoch ${ran}/${epochs}: no improvement in ${monitored} for ${patience} epoch${patience === 1 ? '' : 's'}`;
  else text = `ran all ${epochs} epochs`;
  if (h.restoredBestWeights) text += `; restored epoch ${best} (lowest ${monitored})`;
  else if (es?.restoreBestWeights && ran > 0) text += `; kept epoch ${ran} (lowest ${monitored})`;
  if (es) text += defaulted ? ` [early stopping on by default: patience ${patience}, best weights restored; training.earlyStopping false or --no-early-stopping turns it off]` : '';
  else if (h.valLoss.length === 0 && ran > 0) text += ' (no validation rows: no early stopping)';
  return {
    text,
    record: {
      epochsRun: ran,
      epochs,
      stoppedEarly: h.stoppedEarly,
      bestEpoch: best > 0 ? best : null,
      restoredEpoch: h.restoredBestWeights ? best : null,
      earlyStopping: es ? { ...es, monitor, defaulted } : null,
      text,
    },
  };
}

/** The held-out result as text: the forecaster table and a plain verdict, or the scalar metrics. */
export function evaluationText(e: Evaluation): string {
  if (Array.isArray(e.table)) {
    const rows = e.table as BaselineRow[];
    const fmt = (v: number) => (+v.toPrecision(5)).toString();
    const table = formatTable([['held-out: ' + String(e.split), 'RMSE', 'MAE'], ...rows.map((r) => [r.name, fmt(r.rmse), fmt(r.mae)])], (c) => (c === 0 ? 'left' : 'right'));
    const best = rows.slice(1).reduce((a, b) => (b.rmse < a.rmse ? b : a));
    const verdict = e.beatsBaselines
      ? `The model beats every baseline on the held-out rows (best baseline: ${best.name}, RMSE ${fmt(best.rmse)}).`
      : `The model does NOT beat the best baseline: ${best.name} has RMSE ${fmt(best.rmse)}, the model ${fmt(rows[0].rmse)}. Use the baseline, or try another window, transform, season or model.`;
    return `${table}\n${verdict}\n`;
  }
  const text = Object.entries(e).map(([k, v]) => `${k} ${typeof v === 'number' ? +v.toPrecision(5) : String(v)}`).join(', ');
  return text ? `${text}\n` : '';
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
