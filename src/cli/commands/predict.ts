// `rnnx predict MODEL --input FILE [--output FILE]`: tensors in (.npy/.json, [N,T,I] or [T,I]) or
// a CSV series; for a forecaster (a model trained by `rnnx train` on a CSV) a recursive n-step
// forecast past the end of the series, an optional one-step backtest and an SVG plot.

import { extname } from 'node:path';
import { InferenceModel } from '../../runtime/inference.js';
import type { ProviderName } from '../../runtime/providers.js';
import { loadCsvSeries } from '../../data/timeseries.js';
import { loadTensor, encodeNpy, tensorToNested, type Tensor } from '../../data/tensor.js';
import { checkTransformDomain, denormalizeValue, normalizeValue, SERIES_TRANSFORMS } from '../../data/timeseries.js';
import { UserError } from '../../data/errors.js';
import { userInput, userInputAsync } from '../errors.js';
import { checkWritable, writeOutput } from '../output.js';
import { backtest, forecastInfo, recursiveForecast, rmse, rowsNeeded, type ForecastInfo } from '../forecast.js';
import { linePlot } from '../svg.js';
import { providersArg } from '../providers.js';
import type { ModelMetadata, Normalization } from '../../model/types.js';

export async function openModel(path: string, providers: ProviderName[], threads?: number): Promise<InferenceModel> {
  return userInputAsync(path, () => InferenceModel.open(path, { providers, intraOpNumThreads: threads }));
}

function csvText(header: string[], rows: ArrayLike<number | string>[]): string {
  return [header.join(','), ...rows.map((r) => Array.from(r, (v) => (typeof v === 'number' ? +v.toPrecision(7) : v)).join(','))].join('\n') + '\n';
}

/**
 * The forecast settings a file's metadata carries, checked: a corrupted or hand-edited file is
 * a user error naming the file and the field, not a crash deep inside the forecast.
 */
function readForecastInfo(meta: ModelMetadata | null, modelPath: string): ForecastInfo | null {
  const where = `${modelPath}: metadata_props rnnx.metadata extra`;
  const info = userInput(where, () => forecastInfo(meta?.extra));
  if (!info) return null;
  const names = (field: string, v: unknown) => {
    if (!Array.isArray(v) || v.length === 0 || !v.every((c) => typeof c === 'string')) {
      throw new UserError(`${where}.${field} must be a non-empty JSON array of column names, got ${JSON.stringify(v)}`);
    }
  };
  names('inputColumns', info.inputColumns);
  names('targetColumns', info.targetColumns);
  for (const field of ['window', 'horizon'] as const) {
    if (!Number.isInteger(info[field]) || info[field] <= 0) throw new UserError(`${where}.${field} must be a positive integer, got ${JSON.stringify(meta?.extra?.[field])}`);
  }
  if (!SERIES_TRANSFORMS.includes(info.transform)) throw new UserError(`${where}.transform must be one of ${SERIES_TRANSFORMS.join(', ')}, got ${JSON.stringify(info.transform)}`);
  return info;
}

/** Normalisation statistics from a file's metadata, checked against the feature count they apply to. */
function checkNormalization(n: Normalization | undefined, features: number | null, field: string, modelPath: string): void {
  if (n === undefined) return;
  const where = `${modelPath}: metadata_props rnnx.metadata ${field}`;
  const ok = (v: unknown) => Array.isArray(v) && (features === null || v.length === features) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (n === null || typeof n !== 'object' || !ok(n.mean) || !ok(n.std) || n.mean.length !== n.std.length || n.std.some((x) => x === 0)) {
    throw new UserError(`${where} must be { mean, std }: arrays of ${features ?? 'equal numbers of'} finite numbers (std non-zero), got ${JSON.stringify(n).slice(0, 120)}`);
  }
}

/** Writes a tensor to `out` (.npy/.json/.csv) or stdout (JSON). */
function emitTensor(t: Tensor, out: string | undefined): void {
  if (!out || out === '-') {
    process.stdout.write(JSON.stringify(tensorToNested(t)) + '\n');
    return;
  }
  const ext = extname(out).toLowerCase();
  if (ext === '.npy') writeOutput(out, encodeNpy(t));
  else if (ext === '.json') writeOutput(out, JSON.stringify(tensorToNested(t)) + '\n');
  else if (ext === '.csv') {
    const F = t.dims[t.dims.length - 1];
    const rows: number[][] = [];
    for (let i = 0; i < t.data.length; i += F) rows.push(Array.from(t.data.subarray(i, i + F)));
    const lead = t.dims.length === 3 ? ['n', 't'] : t.dims.length === 2 ? ['n'] : [];
    const header = [...lead, ...Array.from({ length: F }, (_, j) => `y${j}`)];
    const withIdx = rows.map((r, i) => (t.dims.length === 3 ? [Math.floor(i / t.dims[1]), i % t.dims[1], ...r] : t.dims.length === 2 ? [i, ...r] : r));
    writeOutput(out, csvText(header, withIdx));
  } else throw new UserError(`${out}: unknown output format; use .csv, .json or .npy`);
}

async function predictTensor(model: InferenceModel, t: Tensor, file: string, meta: ModelMetadata | null, raw: boolean, out: string | undefined) {
  const I = model.inputSize;
  let dims = t.dims;
  if (dims.length === 2) dims = [1, ...dims];
  if (dims.length !== 3) throw new UserError(`${file}: expected a tensor [batch, time, features] or [time, features], got shape [${t.dims.join(', ')}]`);
  if (I !== null && dims[2] !== I) {
    throw new UserError(`${file}: the model expects ${I} feature${I === 1 ? '' : 's'} per step, the input has ${dims[2]} (shape [${t.dims.join(', ')}])`);
  }
  const x = new Float32Array(t.data.length);
  const inNorm = raw ? undefined : meta?.inputNormalization;
  for (let i = 0; i < x.length; i++) x[i] = normalizeValue(t.data[i], inNorm, i % dims[2]);
  const r = await userInputAsync(file, () => model.run(x, { batch: dims[0], time: dims[1] }));
  const F = r.dims[r.dims.length - 1];
  const tn = raw ? undefined : meta?.targetNormalization;
  const y = new Float32Array(r.y.length);
  for (let i = 0; i < y.length; i++) y[i] = tn && tn.mean.length === F ? denormalizeValue(r.y[i], tn, i % F) : r.y[i];
  emitTensor({ data: y, dims: r.dims }, out);
  if (out) process.stderr.write(`wrote ${out}: y [${r.dims.join(', ')}]\n`);
}

export default async function predict(argv: Record<string, unknown>): Promise<void> {
  const modelPath = String(argv.model);
  const input = String(argv.input);
  const out = argv.output === undefined ? undefined : String(argv.output);
  const plot = argv.plot === undefined ? undefined : String(argv.plot);
  for (const p of [out, plot]) if (p) checkWritable(p);
  const model = await openModel(modelPath, providersArg(argv));
  try {
    const meta = model.metadata;
    const raw = Boolean(argv.raw);
    const ext = extname(input).toLowerCase();
    const info = readForecastInfo(meta, modelPath);
    checkNormalization(meta?.inputNormalization, model.inputSize, 'inputNormalization', modelPath);
    checkNormalization(meta?.targetNormalization, null, 'targetNormalization', modelPath);
    if (ext !== '.csv') {
      await predictTensor(model, loadTensor(input), input, meta, raw, out);
      return;
    }
    const columns = argv.columns !== undefined ? String(argv.columns).split(',').map((s) => s.trim()) : info?.inputColumns;
    const series = loadCsvSeries(input, { columns });
    const I = model.inputSize;
    if (I !== null && series.names.length !== I) {
      throw new UserError(`${input}: the model expects ${I} feature${I === 1 ? '' : 's'} per step${info ? ` (${info.inputColumns.join(', ')})` : ''}, the selected columns are ${series.names.length} (${series.names.join(', ')})`);
    }
    if (!info) {
      // Not a forecaster: the whole CSV is one sequence [1, rows, I].
      await predictTensor(model, { data: Float32Array.from(series.values), dims: [1, series.rows, series.names.length] }, input, meta, raw, out);
      return;
    }
    const norms = raw ? {} : { input: meta?.inputNormalization, target: meta?.targetNormalization };
    const steps = argv.steps === undefined ? info.horizon : Number(argv.steps);
    if (!Number.isInteger(steps) || steps <= 0) throw new UserError(`--steps must be a positive integer, got ${argv.steps}`);
    // A logarithmic transform needs positive levels in every row the forecast (and backtest) reads.
    const backtestRows = argv.backtest === undefined ? 0 : Number(argv.backtest);
    checkTransformDomain(series, info.transform, series.rows - rowsNeeded(info) - (Number.isInteger(backtestRows) && backtestRows > 0 ? backtestRows : 0));
    // The series and the options are checked above: a failure inside the runs is the model file's.
    const fc = await userInputAsync(modelPath, () => recursiveForecast(model, series, info, steps, norms));
    const O = info.targetColumns.length;
    const rows = Array.from({ length: steps }, (_, s) => [series.rows + s, ...Array.from(fc.subarray(s * O, (s + 1) * O))]);
    let text = csvText(['row', ...info.targetColumns], rows);
    if (argv.backtest !== undefined) {
      const bt = await userInputAsync(modelPath, () => backtest(model, series, info, Number(argv.backtest), norms));
      process.stderr.write(`one-step-ahead RMSE over the last ${bt.rows.length} rows: ${rmse(bt.predicted, bt.actual).toPrecision(5)}\n`);
      // Backtest rows (row, actual, one-step-ahead prediction) first, then the forecast past the end.
      const more = info.targetColumns.slice(1).map((c) => `predicted ${c}`);
      text = csvText(['row', 'kind', 'actual', 'predicted', ...more], [
        ...Array.from(bt.rows, (r, n) => [r, 'backtest', bt.actual[n], bt.predicted[n], ...more.map(() => '')]),
        ...rows.map(([r, ...v]) => [r, 'forecast', '', ...v]),
      ]);
    }
    if (out) {
      writeOutput(out, text);
      process.stderr.write(`wrote ${out}: ${argv.backtest !== undefined ? `one-step-ahead backtest of the last ${Number(argv.backtest)} rows and ` : ''}${steps}-step forecast of ${info.targetColumns.join(', ')}\n`);
    } else process.stdout.write(text);
    if (plot) {
      const j = series.names.indexOf(info.targetColumns[0]);
      const hist = Array.from({ length: series.rows }, (_, r) => series.values[r * series.names.length + Math.max(j, 0)]);
      const svg = linePlot(
        [
          { name: `${info.targetColumns[0]} (history)`, y: hist },
          { name: `forecast (${steps} steps)`, x: [series.rows - 1, ...rows.map((r) => r[0])], y: [hist[hist.length - 1], ...rows.map((r) => r[1])], dashed: true },
        ],
        { title: `${modelPath}: ${steps}-step forecast`, xLabel: 'row', yLabel: info.targetColumns[0], markerX: series.rows - 1 },
      );
      writeOutput(plot, svg);
      process.stderr.write(`wrote ${plot}\n`);
    }
  } finally {
    await model.release();
  }
}
