// `rnnx train` configuration: a JSON file (paths relative to it) and/or flags, validated into
// the datasets, the model spec and the options handed to `fit`. Each data kind knows how to hold
// out its evaluation split and what to store in the model's metadata to use it later.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Rng } from '../layers/random.js';
import type { LayerSpec } from '../layers/spec.js';
import type { ModelMetadata } from '../model/types.js';
import type { SequenceDataset } from '../data/dataset.js';
import { UserError } from '../data/errors.js';
import { readText } from '../data/files.js';
import { loadSequenceZip } from '../data/sequences.js';
import { buildVocabulary, encodeText, textDataset } from '../data/text.js';
import {
  computeNormalization, loadCsvSeries, makeWindows, transformLag, transformSeries,
  type Series, type SeriesTransform,
} from '../data/timeseries.js';
import { forecastExtra, type ForecastInfo } from './forecast.js';
import { packageRoot } from './package-root.js';

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
  /** Last rows held out as the test split: never trained on, never used to choose anything (default 15% of the rows). */
  testRows?: number;
  /** Rows before the test split used for the validation loss and early stopping (default 15% of the rows). */
  validationRows?: number;
  /** Season length in rows: adds the seasonal-naive baseline. */
  season?: number;
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
  forecast?: { info: ForecastInfo; series: Series; testRows: number; validationRows: number; season?: number };
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

/** Where the JSON Schema of train configs is shipped (referenced by the README and `rnnx train --help`). */
export const CONFIG_SCHEMA_PATH = 'schemas/train-config.schema.json';

type JsonSchema = Record<string, any>;
let schemaCache: { schema: JsonSchema; validate: ValidateFunction } | undefined;

/** The shipped JSON Schema, compiled once: the single source of truth for config validation. */
export function configSchema(): { schema: JsonSchema; validate: ValidateFunction } {
  if (!schemaCache) {
    const schema = JSON.parse(readFileSync(join(packageRoot(), CONFIG_SCHEMA_PATH), 'utf8')) as JsonSchema;
    schemaCache = { schema, validate: new Ajv({ allowUnionTypes: true, verbose: true }).compile(schema) };
  }
  return schemaCache;
}

/**
 * Flags of `rnnx train` that set a config field (dotted path). The help text of each is the
 * field's description in the schema, so the two cannot drift. `--window` sets data.time for a
 * text, `--lr` the optimizer's lr, `--patience` turns early stopping on.
 */
export const CONFIG_FLAGS: readonly { flag: string; path: string; type: 'number' | 'string' | 'list' | 'boolean' }[] = [
  { flag: 'columns', path: 'data.columns', type: 'list' },
  { flag: 'target-columns', path: 'data.targetColumns', type: 'list' },
  { flag: 'window', path: 'data.window', type: 'number' },
  { flag: 'stride', path: 'data.stride', type: 'number' },
  { flag: 'horizon', path: 'data.horizon', type: 'number' },
  { flag: 'transform', path: 'data.transform', type: 'string' },
  { flag: 'normalize', path: 'data.normalize', type: 'boolean' },
  { flag: 'test-rows', path: 'data.testRows', type: 'number' },
  { flag: 'validation-rows', path: 'data.validationRows', type: 'number' },
  { flag: 'season', path: 'data.season', type: 'number' },
  { flag: 'validation-fraction', path: 'data.validationFraction', type: 'number' },
  { flag: 'max-chars', path: 'data.maxChars', type: 'number' },
  { flag: 'epochs', path: 'training.epochs', type: 'number' },
  { flag: 'batch-size', path: 'training.batchSize', type: 'number' },
  { flag: 'seed', path: 'training.seed', type: 'number' },
  { flag: 'loss', path: 'training.loss', type: 'string' },
  { flag: 'optimizer', path: 'training.optimizer.type', type: 'string' },
  { flag: 'lr', path: 'training.optimizer.lr', type: 'number' },
  { flag: 'clip-norm', path: 'training.clipNorm', type: 'number' },
  { flag: 'patience', path: 'training.earlyStopping.patience', type: 'number' },
  { flag: 'threads', path: 'training.threads', type: 'number' },
  { flag: 'device', path: 'training.device', type: 'string' },
  { flag: 'out', path: 'output.model', type: 'string' },
  { flag: 'log', path: 'output.log', type: 'string' },
  { flag: 'plot', path: 'output.plot', type: 'string' },
];

/** The schema node of a dotted config path (data.* fields are looked up in the csv, text and sequences definitions, in that order). */
export function schemaField(path: string): JsonSchema | undefined {
  const { schema } = configSchema();
  const deref = (n: JsonSchema | undefined): JsonSchema | undefined => (n?.$ref ? schema.definitions[n.$ref.split('/').pop()!] : n);
  const parts = path.split('.');
  const roots = parts[0] === 'data' ? ['csvData', 'textData', 'sequencesData'].map((d) => schema.definitions[d]) : [schema.properties[parts[0]]];
  for (const root of roots) {
    let node = deref(root);
    for (const p of parts.slice(1)) {
      const raw: JsonSchema | undefined = node?.properties?.[p] ?? node?.oneOf?.find((o: JsonSchema) => o.properties)?.properties?.[p];
      // A description beside a $ref describes this use of the shared definition.
      node = raw?.$ref ? { ...deref(raw), ...(raw.description ? { description: raw.description } : {}) } : raw;
    }
    if (node) return node;
  }
  return undefined;
}

const article = (t: string) => (t === 'integer' || t === 'object' || t === 'array' ? `an ${t}` : t === 'null' ? 'null' : `a ${t}`);

/** "a positive integer <= 8192", "a number > 0 and < 1": the type and bounds of a schema node. */
function range(n: JsonSchema, upper: boolean): string | undefined {
  const types = ([] as string[]).concat(n.type ?? []);
  const t = types.filter((x) => x !== 'null')[0];
  if (t !== 'integer' && t !== 'number') return undefined;
  const lo = n.minimum;
  let base = t === 'integer' ? (lo === 1 ? 'a positive integer' : lo === 0 ? 'a non-negative integer' : 'an integer') : 'a number';
  const bounds: string[] = [];
  if (lo !== undefined && !(t === 'integer' && (lo === 0 || lo === 1))) bounds.push(`>= ${lo}`);
  if (n.exclusiveMinimum !== undefined) bounds.push(`> ${n.exclusiveMinimum}`);
  if (n.maximum !== undefined && upper) bounds.push(`<= ${n.maximum}`);
  if (n.exclusiveMaximum !== undefined && (upper || t === 'number')) bounds.push(`< ${n.exclusiveMaximum}`);
  if (bounds.length) base += ' ' + bounds.join(' and ');
  return types.includes('null') ? `${base} or null` : base;
}

/** "must be ..." for one schema branch: what the value was expected to be. */
function expectation(e: ErrorObject): string {
  const p = e.params as Record<string, any>;
  // Upper bounds only when one was broken: "must be a positive integer, got "x"" reads better.
  const upper = e.keyword === 'maximum' || e.keyword === 'exclusiveMaximum';
  const numeric = ['type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(e.keyword) ? range(e.parentSchema ?? {}, upper) : undefined;
  if (numeric) return `must be ${numeric}`;
  switch (e.keyword) {
    case 'type':
      return `must be ${String(p.type).split(',').map(article).join(' or ')}`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'minLength':
      return 'must not be empty';
    case 'minItems':
      return `must have at least ${p.limit} item${p.limit === 1 ? '' : 's'}`;
    default:
      return e.message ?? 'is not valid';
  }
}

/** One line for the first schema violation: field path, what it must be, what it is. */
function describeViolation(errors: ErrorObject[], config: unknown, name: (path: string) => string): string {
  const valueAt = (ptr: string) => ptr.split('/').slice(1).reduce<any>((v, k) => (v == null ? undefined : v[k.replace(/~1/g, '/').replace(/~0/g, '~')]), config);
  const dotted = (ptr: string) => ptr.split('/').slice(1).reduce((s, k) => (/^\d+$/.test(k) ? `${s}[${k}]` : s ? `${s}.${k}` : k), '');
  const got = (v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));
  // Branch failures of oneOf / if-then are reported through the error inside the branch.
  const real = errors.filter((e) => e.keyword !== 'if' && e.keyword !== 'oneOf');
  const deepest = Math.max(...real.map((e) => e.instancePath.split('/').length));
  const first = real.find((e) => e.instancePath.split('/').length === deepest) ?? errors[0];
  const at = first.instancePath;
  if (first.keyword === 'required') {
    const field = dotted(`${at}/${(first.params as { missingProperty: string }).missingProperty}`);
    return `${name(field)} is required`;
  }
  if (first.keyword === 'additionalProperties') {
    const extra = (first.params as { additionalProperty: string }).additionalProperty;
    const known = Object.keys(first.parentSchema?.properties ?? {});
    return `${name(dotted(`${at}/${extra}`))}: unknown field; known fields${at ? ` of ${dotted(at)}` : ''}: ${known.join(', ')}`;
  }
  // A value that failed every branch of a oneOf: say what each branch wanted, unless it had
  // the right type for one of them and broke a bound there (units 1e6: "must be <= 8192").
  const here = real.filter((e) => e.instancePath === at);
  const oneOf = errors.some((e) => e.keyword === 'oneOf' && e.instancePath === at);
  const bound = here.find((e) => !['type', 'enum', 'const'].includes(e.keyword));
  const must = oneOf && !bound ? here.map(expectation).map((m) => m.replace(/^must be /, '')).join(', or ') : expectation(bound ?? first);
  return `${name(dotted(at))} ${oneOf && !bound ? 'must be ' + must : must}, got ${got(valueAt(at))}`;
}

/**
 * Validates the whole config against the shipped schema before anything is read or trained.
 * `flagged` maps config paths set by flags to the flag that set them, for the message.
 */
export function validateConfig(c: TrainConfig, where: string, flagged: Record<string, string> = {}): void {
  const { validate } = configSchema();
  if (validate(c)) return;
  // A field set by a flag is named by the flag too ("--test-rows (data.testRows)"); --layers sets model.layers.*.
  const name = (path: string) => {
    const key = Object.keys(flagged).filter((k) => path === k || path.startsWith(k + '.') || path.startsWith(k + '[')).sort((a, b) => b.length - a.length)[0];
    return key ? `--${flagged[key]} (${path})` : path;
  };
  const msg = describeViolation(validate.errors ?? [], c, name);
  throw new UserError(where === 'flags' ? msg : `${where}: ${msg}`);
}

/** Patience of the early stopping CSV forecasters get by default (training.earlyStopping unset). */
export const DEFAULT_PATIENCE = 10;

/** Rows held out at the end of a series for test and for validation when the config does not say: 15% each. */
export function defaultHeldOutRows(rows: number): number {
  return Math.max(1, Math.round(rows * 0.15));
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
  const testRows = d.testRows ?? defaultHeldOutRows(table.rows);
  const valRows = d.validationRows ?? defaultHeldOutRows(table.rows);
  // Level row r is predicted from derived rows ending at r-1-lag; windows whose targets reach the
  // held-out rows are excluded from training (derived index = level index - lag).
  const trainEnd = table.rows - testRows - valRows - lag; // derived rows [0, trainEnd) hold training targets
  if (trainEnd < T + h) throw new UserError(`${d.path}: window ${T} + horizon ${h} needs at least ${T + h} training rows, the series has ${trainEnd + lag} after holding out ${testRows} test and ${valRows} validation rows (data.testRows, data.validationRows)`);
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
    forecast: { info, series: table, testRows, validationRows: valRows, season: d.season },
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
