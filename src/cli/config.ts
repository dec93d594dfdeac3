// `rnnx train` configuration: a JSON file (paths relative to it) and/or flags, validated into
// the datasets, the model spec and the options handed to `fit`. Each data kind knows how to hold
// out its evaluation split and what to store in the model's metadata to use it later.

import { dirname, resolve } from 'node:path';
import { Rng } from '../layers/random.js';
import type { LayerSpec } from '../layers/spec.js';
import type { ModelMetadata } from '../model/types.js';
import type { SequenceDataset } from '../data/dataset.js';
import { UserError } from '../data/errors.js';
import { readText } from '../data/files.js';
import { loadSequenceZip } from '../data/sequences.js';
import { buildVocabulary, encodeText, textDataset } from '../data/text.js';
import {
  computeNormalization, loadCsvSeries, makeWindows, SERIES_TRANSFORMS, transformLag, transformSeries,
  type Series, type SeriesTransform,
} from '../data/timeseries.js';
import { forecastExtra, type ForecastInfo } from './forecast.js';

export interface CsvDataConfig {
  kind: 'csv';
  path: string;
  columns?: (string | number)[];
  targetColumns?: (string | number)[];
  window: number;
  stride?: number;
  horizon?: number;
  /** What the model learns on (default 'none': normalised levels). */
  transform?: SeriesTransform;
  /** Normalise inputs and targets with training-rows statistics (default true). */
  normalize?: boolean;
  /** Last rows held out as the test split: never trained on, never used to choose anything. */
  testRows?: number;
  /** Rows before the test split used for the validation loss (default 0). */
  validationRows?: number;
}

export interface TextDataConfig {
  kind: 'text';
  path: string;
  /** Sequence length T. */
  time: number;
  stride?: number;
  /** Fraction held out at the end of the text as the validation split (default 0.05). */
  validationFraction?: number;
  /** Use only the first N characters for training (quick experiments). */
  maxChars?: number;
  /**
   * 'windows' (default): independent sequences, shuffled. 'stateful': row j of each batch
   * continues row j of the previous one, and training carries the state across batches
   * (training.stateful is set, shuffling is off), so the model learns context longer than T.
   */
  layout?: 'windows' | 'stateful';
}

export interface SequencesDataConfig {
  kind: 'sequences';
  path: string;
  /** 'random' (stratified by class, default) or 'groups' (hold out whole dataset groups). */
  split?: 'random' | 'groups';
  validationFraction?: number;
  validationGroups?: number[];
  splitSeed?: number;
}

export type DataConfig = CsvDataConfig | TextDataConfig | SequencesDataConfig;

export interface TrainConfig {
  name?: string;
  data: DataConfig;
  model: { layers: LayerSpec[] | Record<string, unknown>[] };
  /** Handed to fit (epochs, batchSize, optimizer, loss, clipNorm, seed, shuffle...). */
  training: Record<string, unknown> & { epochs?: number; batchSize?: number };
  output: { model: string; log?: string; plot?: string; export?: { sequenceLens?: boolean; stateful?: boolean; opset?: number } };
}

export interface PreparedData {
  train: SequenceDataset;
  validation?: SequenceDataset;
  inputSize: number;
  metadata: ModelMetadata;
  /** One line for the log. */
  summary: string;
  kind: DataConfig['kind'];
  forecast?: { info: ForecastInfo; series: Series; testRows: number };
  /** Classes of a sequence classifier, in class-index order. */
  classes?: number[];
}

function obj(where: string, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${where} must be an object, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

function posInt(where: string, v: unknown, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new UserError(`${where} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function fraction(where: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0 && v < 1)) throw new UserError(`${where} must be a number in (0, 1), got ${JSON.stringify(v)}`);
  return v;
}

/** Reads and validates a config file; relative paths become relative to the file. */
export function readConfig(path: string): TrainConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readText(path));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const c = obj(path, raw);
  const base = dirname(path);
  const cfg = c as unknown as TrainConfig;
  if (cfg.data && typeof cfg.data === 'object' && typeof cfg.data.path === 'string') cfg.data.path = resolve(base, cfg.data.path);
  if (cfg.output && typeof cfg.output === 'object') {
    for (const k of ['model', 'log', 'plot'] as const) if (typeof cfg.output[k] === 'string') cfg.output[k] = resolve(base, cfg.output[k]!);
  }
  return cfg;
}

/** Parses "lstm:32,dense:1" / "gru:64:bidirectional:seq,dense:2:softmax" into layer specs. */
export function parseLayers(s: string): Record<string, unknown>[] {
  const layers = s.split(',').map((part) => part.trim()).filter(Boolean);
  return layers.map((part, i) => {
    const [kind, units, ...flags] = part.split(':');
    // "vocab" / "classes" are filled in from the data by `rnnx train`.
    const layer: Record<string, unknown> = { kind, units: units === 'vocab' || units === 'classes' ? units : Number(units) };
    for (const f of flags) {
      if (['forward', 'reverse', 'bidirectional'].includes(f)) layer.direction = f;
      else if (f === 'seq') layer.returnSequences = true;
      else if (['none', 'relu', 'tanh', 'sigmoid', 'softmax'].includes(f)) layer.activation = f;
      else throw new UserError(`--layers: layer ${i} (${JSON.stringify(part)}): unknown flag ${JSON.stringify(f)}; flags: forward, reverse, bidirectional, seq, relu, tanh, sigmoid, softmax`);
    }
    return layer;
  });
}

/** Validates the config's shape (not the model spec, which normalizeModelSpec checks). */
export function validateConfig(c: TrainConfig, where: string): void {
  const d = obj(`${where}: data`, c.data);
  if (!['csv', 'text', 'sequences'].includes(d.kind as string)) throw new UserError(`${where}: data.kind must be "csv", "text" or "sequences", got ${JSON.stringify(d.kind)}`);
  if (typeof d.path !== 'string' || !d.path) throw new UserError(`${where}: data.path must be a file path, got ${JSON.stringify(d.path)}`);
  const m = obj(`${where}: model`, c.model);
  if (!Array.isArray(m.layers) || m.layers.length === 0) throw new UserError(`${where}: model.layers must be a non-empty array, got ${JSON.stringify(m.layers)}`);
  obj(`${where}: training`, c.training ?? {});
  const o = obj(`${where}: output`, c.output);
  if (typeof o.model !== 'string' || !o.model) throw new UserError(`${where}: output.model must be the .onnx path to write, got ${JSON.stringify(o.model)}`);
  if (d.kind === 'csv' && d.transform !== undefined && !SERIES_TRANSFORMS.includes(d.transform as SeriesTransform)) {
    throw new UserError(`${where}: data.transform must be one of ${SERIES_TRANSFORMS.join(', ')}, got ${JSON.stringify(d.transform)}`);
  }
}

function prepareCsv(d: CsvDataConfig): PreparedData {
  const table = loadCsvSeries(d.path, { columns: d.columns });
  const T = posInt('data.window', d.window);
  const h = posInt('data.horizon', d.horizon, 1);
  const s = posInt('data.stride', d.stride, 1);
  const transform = d.transform ?? 'none';
  const targetRefs = d.targetColumns;
  const targetIdx = targetRefs ? targetRefs.map((r) => (typeof r === 'number' ? r : table.names.indexOf(r))) : table.names.map((_, i) => i);
  targetIdx.forEach((j, k) => {
    if (j < 0 || j >= table.names.length) throw new UserError(`${d.path}: data.targetColumns[${k}] = ${JSON.stringify(targetRefs?.[k])} is not one of the input columns (${table.names.join(', ')})`);
  });
  const series = transformSeries(table, transform);
  const lag = transformLag(transform);
  const testRows = d.testRows ?? 0;
  const valRows = d.validationRows ?? 0;
  // Level row r is predicted from derived rows ending at r-1-lag; windows whose targets reach the
  // held-out rows are excluded from training (derived index = level index - lag).
  const trainEnd = table.rows - testRows - valRows - lag; // derived rows [0, trainEnd) hold training targets
  if (trainEnd < T + h) throw new UserError(`${d.path}: window ${T} + horizon ${h} needs at least ${T + h} training rows, the series has ${trainEnd + lag} after holding out ${testRows + valRows} rows`);
  const normalize = d.normalize ?? true;
  const inputNormalization = normalize ? computeNormalization(series, series.names.map((_, i) => i), 0, trainEnd) : undefined;
  const targetNormalization = normalize ? computeNormalization(series, targetIdx, 0, trainEnd) : undefined;
  const common = { window: T, horizon: h, stride: s, targetColumns: targetIdx, inputNormalization, targetNormalization };
  const train = makeWindows(series, { ...common, from: 0, to: trainEnd });
  const validation = valRows > 0 ? makeWindows(series, { ...common, stride: 1, from: trainEnd - T, to: trainEnd + valRows }) : undefined;
  const info: ForecastInfo = { inputColumns: table.names, targetColumns: targetIdx.map((j) => table.names[j]), window: T, horizon: h, transform };
  const metadata: ModelMetadata = { extra: { ...forecastExtra(info), data: d.path.split('/').pop() ?? d.path } };
  if (inputNormalization) metadata.inputNormalization = inputNormalization;
  if (targetNormalization) metadata.targetNormalization = targetNormalization;
  return {
    kind: 'csv',
    train,
    validation,
    inputSize: table.names.length,
    metadata,
    summary: `${d.path}: ${table.rows} rows of ${table.names.join(', ')}; transform ${transform}; ${train.count} training windows of ${T}, ${validation?.count ?? 0} validation, last ${testRows} rows held out for test`,
    forecast: { info, series: table, testRows },
  };
}

function prepareText(d: TextDataConfig, batchSize: number): PreparedData {
  let text = readText(d.path);
  if (text.length === 0) throw new UserError(`${d.path}: the file is empty`);
  const vocabulary = buildVocabulary(text);
  const codes = encodeText(text, vocabulary, d.path);
  const T = posInt('data.time', d.time);
  const vf = fraction('data.validationFraction', d.validationFraction, 0.05);
  const split = Math.floor(codes.length * (1 - vf));
  const trainTo = d.maxChars ? Math.min(split, posInt('data.maxChars', d.maxChars)) : split;
  const layout = d.layout ?? 'windows';
  if (layout !== 'windows' && layout !== 'stateful') throw new UserError(`data.layout must be "windows" or "stateful", got ${JSON.stringify(layout)}`);
  // Say which part of which file is short: the split is the caller's, not the file's.
  const pct = (f: number) => `${+(f * 100).toFixed(2)}%`;
  if (trainTo < T + 1) throw new UserError(`${d.path}: the training part (first ${pct(1 - vf)}) has ${trainTo} characters, need at least ${T + 1} for one sequence of data.time ${T} plus its next character`);
  if (codes.length - split < T + 1) throw new UserError(`${d.path}: the validation part (last ${pct(vf)}) has ${codes.length - split} characters, need at least ${T + 1} for one sequence of data.time ${T} plus its next character`);
  const train = textDataset(codes, vocabulary.length, { time: T, stride: d.stride ?? T, from: 0, to: trainTo, layout, batchSize });
  const validation = textDataset(codes, vocabulary.length, { time: T, stride: T, from: split, to: codes.length });
  text = '';
  return {
    kind: 'text',
    train,
    validation,
    inputSize: vocabulary.length,
    metadata: { vocabulary, extra: { task: 'char-lm', data: d.path.split('/').pop() ?? d.path, validationFrom: String(split), time: String(T) } },
    summary: `${d.path}: ${codes.length} characters, vocabulary ${vocabulary.length}; ${train.count} training sequences of ${T}, ${validation.count} validation (last ${(vf * 100).toFixed(0)}% of the text)`,
  };
}

function subset(d: SequenceDataset, idx: number[]): SequenceDataset {
  const step = d.time * d.features;
  const x = new Float32Array(idx.length * step);
  const y = new Int32Array(idx.length);
  const lengths = new Int32Array(idx.length);
  idx.forEach((i, n) => {
    x.set(d.x.subarray(i * step, (i + 1) * step), n * step);
    y[n] = d.y[i];
    lengths[n] = d.lengths ? d.lengths[i] : d.time;
  });
  return { x, count: idx.length, time: d.time, features: d.features, lengths, y, yShape: [idx.length] };
}

/** Held-out indices: stratified random (per class, seeded) or whole groups. */
export function splitSequences(y: ArrayLike<number>, groups: Int32Array | undefined, d: SequencesDataConfig): { train: number[]; validation: number[]; description: string } {
  const all = Array.from({ length: y.length }, (_, i) => i);
  if ((d.split ?? 'random') === 'groups') {
    if (!groups) throw new UserError(`${d.path}: data.split "groups" needs a groups file (…DatasetGroup.csv) in the archive`);
    const held = d.validationGroups ?? [Math.max(...groups)];
    const validation = all.filter((i) => held.includes(groups[i]));
    if (validation.length === 0) throw new UserError(`${d.path}: no sequence is in data.validationGroups ${JSON.stringify(held)}`);
    return { train: all.filter((i) => !held.includes(groups[i])), validation, description: `held-out groups ${held.join(', ')}` };
  }
  const vf = fraction('data.validationFraction', d.validationFraction, 0.3);
  const rng = new Rng(d.splitSeed ?? 1);
  const train: number[] = [];
  const validation: number[] = [];
  const classes = [...new Set(Array.from(y))].sort((a, b) => a - b);
  for (const c of classes) {
    const members = all.filter((i) => y[i] === c);
    for (let i = members.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [members[i], members[j]] = [members[j], members[i]];
    }
    const nv = Math.round(members.length * vf);
    validation.push(...members.slice(0, nv));
    train.push(...members.slice(nv));
  }
  return { train: train.sort((a, b) => a - b), validation: validation.sort((a, b) => a - b), description: `stratified random ${(vf * 100).toFixed(0)}% (seed ${d.splitSeed ?? 1})` };
}

function prepareSequences(d: SequencesDataConfig): PreparedData {
  const { dataset, groups, classes } = loadSequenceZip(d.path);
  const split = splitSequences(dataset.y, groups, d);
  return {
    kind: 'sequences',
    train: subset(dataset, split.train),
    validation: subset(dataset, split.validation),
    inputSize: dataset.features,
    metadata: { extra: { task: 'classify', classes: JSON.stringify(classes), split: split.description, data: d.path.split('/').pop() ?? d.path } },
    summary: `${d.path}: ${dataset.count} sequences (max ${dataset.time} steps, ${dataset.features} features, classes ${classes.join('/')}); ${split.train.length} training, ${split.validation.length} validation (${split.description})`,
    classes,
  };
}

/** `batchSize` is the training batch size (the stateful text layout is built for it). */
export function prepareData(d: DataConfig, batchSize = 32): PreparedData {
  switch (d.kind) {
    case 'csv':
      return prepareCsv(d);
    case 'text':
      return prepareText(d, batchSize);
    case 'sequences':
      return prepareSequences(d);
  }
}
