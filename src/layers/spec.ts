// Layer specifications: the plain-data description of a model, validated once here.
// Option names follow Keras / TensorFlow.js where the concept is theirs (units, returnSequences,
// dropout, recurrentDropout) and ONNX where it is ONNX's (direction, linearBeforeReset, clip).

export type Direction = 'forward' | 'reverse' | 'bidirectional';
export type RecurrentKind = 'rnn' | 'lstm' | 'gru';
export type DenseActivation = 'none' | 'relu' | 'tanh' | 'sigmoid' | 'softmax';

/** Options every recurrent layer shares. Regularisation options act in training only. */
export interface RecurrentCommon {
  /** Hidden size H (> 0). */
  units: number;
  /** 'forward' (default), 'reverse' or 'bidirectional' (outputs of both directions concatenated). */
  direction: Direction;
  /** true: output every step [N, T, D*H]; false (default): the last valid step [N, D*H]. */
  returnSequences: boolean;
  /** Dropout on this layer's inputs, in training only (0 = off). */
  dropout: number;
  /** Dropout on the recurrent state, one mask per sequence (Keras' recurrent_dropout). */
  recurrentDropout: number;
  /** Zoneout probability on h (Krueger et al. 2016), training only. */
  zoneoutH: number;
  /** Zoneout probability on c (LSTM only), training only. */
  zoneoutC: number;
}

export interface RnnLayerSpec extends RecurrentCommon {
  kind: 'rnn';
  /** 'tanh' (default) or 'relu'. */
  activation: 'tanh' | 'relu';
}

export interface LstmLayerSpec extends RecurrentCommon {
  kind: 'lstm';
  /** Peephole connections P (ONNX order i, o, f). Default false. */
  peepholes: boolean;
  /** Clamp gate pre-activations to [-clip, clip]; null (default) = no clipping. */
  clip: number | null;
  /** ONNX input_forget: couple f = 1 - i. Default false. */
  inputForget: boolean;
}

export interface GruLayerSpec extends RecurrentCommon {
  kind: 'gru';
  /** 1 (default, as PyTorch, cuDNN, Keras reset_after) or 0 (ONNX default, original paper). */
  linearBeforeReset: 0 | 1;
}

export interface DenseLayerSpec {
  kind: 'dense';
  units: number;
  /** Default 'none'. Applied per step when the layer before returns sequences (TimeDistributed). */
  activation: DenseActivation;
}

export type RecurrentLayerSpec = RnnLayerSpec | LstmLayerSpec | GruLayerSpec;
export type LayerSpec = RecurrentLayerSpec | DenseLayerSpec;

export interface ModelSpec {
  /** Feature count I of the input [batch, time, I]. Batch and time are dynamic. */
  inputSize: number;
  layers: LayerSpec[];
}

/** Inputs accepted by the layer factories: every field but the kind is optional. */
export type RnnOptions = Partial<Omit<RnnLayerSpec, 'kind'>> & { units: number };
export type LstmOptions = Partial<Omit<LstmLayerSpec, 'kind'>> & { units: number };
export type GruOptions = Partial<Omit<GruLayerSpec, 'kind'>> & { units: number };
export type DenseOptions = Partial<Omit<DenseLayerSpec, 'kind'>> & { units: number };

const RECURRENT_COMMON_KEYS = [
  'units', 'direction', 'returnSequences', 'dropout', 'recurrentDropout', 'zoneoutH', 'zoneoutC',
] as const;
const KEYS: Record<LayerSpec['kind'], readonly string[]> = {
  rnn: ['kind', ...RECURRENT_COMMON_KEYS, 'activation'],
  lstm: ['kind', ...RECURRENT_COMMON_KEYS, 'peepholes', 'clip', 'inputForget'],
  gru: ['kind', ...RECURRENT_COMMON_KEYS, 'linearBeforeReset'],
  dense: ['kind', 'units', 'activation'],
};

/** Number of gate blocks in W/R: RNN 1, GRU 3 (z, r, h), LSTM 4 (i, o, f, c). */
export function gateCount(kind: RecurrentKind): number {
  return kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
}

export function directionCount(direction: Direction): 1 | 2 {
  return direction === 'bidirectional' ? 2 : 1;
}

export function isRecurrent(layer: LayerSpec): layer is RecurrentLayerSpec {
  return layer.kind !== 'dense';
}

function fail(field: string, expected: string, got: unknown): never {
  throw new Error(`${field} must be ${expected}, got ${describe(got)}`);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function positiveInt(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(field, 'a positive integer', v);
  return v;
}

function probability(field: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) fail(field, 'a number in [0, 1)', v);
  return v;
}

function oneOf<T extends string | number>(field: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) fail(field, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, v);
  return v as T;
}

function bool(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') fail(field, 'a boolean', v);
  return v;
}

/**
 * Checks one layer's options and fills in defaults. Throws an Error naming the field,
 * the value received and what was expected, for unknown kinds and unknown options too.
 */
export function normalizeLayer(raw: unknown, where = 'layer'): LayerSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(where, 'an object', raw);
  const o = raw as Record<string, unknown>;
  const kind = oneOf(`${where}.kind`, o.kind, ['rnn', 'lstm', 'gru', 'dense'] as const);
  for (const key of Object.keys(o)) {
    if (o[key] !== undefined && !KEYS[kind].includes(key)) {
      throw new Error(`${where}: unknown option ${JSON.stringify(key)} for a ${kind} layer; known options: ${KEYS[kind].filter((k) => k !== 'kind').join(', ')}`);
    }
  }
  const f = `${where}(${kind})`;
  const units = positiveInt(`${f}.units`, o.units);
  if (kind === 'dense') {
    return {
      kind,
      units,
      activation: oneOf(`${f}.activation`, o.activation ?? 'none', ['none', 'relu', 'tanh', 'sigmoid', 'softmax'] as const),
    };
  }
  const common: RecurrentCommon = {
    units,
    direction: oneOf(`${f}.direction`, o.direction ?? 'forward', ['forward', 'reverse', 'bidirectional'] as const),
    returnSequences: bool(`${f}.returnSequences`, o.returnSequences ?? false),
    dropout: probability(`${f}.dropout`, o.dropout ?? 0),
    recurrentDropout: probability(`${f}.recurrentDropout`, o.recurrentDropout ?? 0),
    zoneoutH: probability(`${f}.zoneoutH`, o.zoneoutH ?? 0),
    zoneoutC: probability(`${f}.zoneoutC`, o.zoneoutC ?? 0),
  };
  if (kind === 'rnn') {
    if (common.zoneoutC !== 0) fail(`${f}.zoneoutC`, '0 (an RNN has no cell state)', common.zoneoutC);
    return { kind, ...common, activation: oneOf(`${f}.activation`, o.activation ?? 'tanh', ['tanh', 'relu'] as const) };
  }
  if (kind === 'gru') {
    if (common.zoneoutC !== 0) fail(`${f}.zoneoutC`, '0 (a GRU has no cell state)', common.zoneoutC);
    return { kind, ...common, linearBeforeReset: oneOf(`${f}.linearBeforeReset`, o.linearBeforeReset ?? 1, [0, 1] as const) };
  }
  const clip = o.clip ?? null;
  if (clip !== null && (typeof clip !== 'number' || !(clip > 0) || !Number.isFinite(clip))) {
    fail(`${f}.clip`, 'a positive finite number or null', clip);
  }
  return {
    kind,
    ...common,
    peepholes: bool(`${f}.peepholes`, o.peepholes ?? false),
    clip: clip as number | null,
    inputForget: bool(`${f}.inputForget`, o.inputForget ?? false),
  };
}

/**
 * Checks a whole model: recurrent layers first (each but the last recurrent one must return
 * sequences, since the next one reads every step), then any number of dense layers.
 */
export function normalizeModelSpec(raw: unknown): ModelSpec {
  if (raw === null || typeof raw !== 'object') fail('model', 'an object', raw);
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['inputSize', 'layers'].includes(key)) throw new Error(`model: unknown option ${JSON.stringify(key)}; known options: inputSize, layers`);
  }
  const inputSize = positiveInt('model.inputSize', o.inputSize);
  if (!Array.isArray(o.layers) || o.layers.length === 0) fail('model.layers', 'a non-empty array of layers', o.layers);
  const layers = o.layers.map((l, i) => normalizeLayer(l, `layers[${i}]`));
  let seenDense = false;
  layers.forEach((layer, i) => {
    if (layer.kind === 'dense') {
      seenDense = true;
      return;
    }
    if (seenDense) throw new Error(`layers[${i}] (${layer.kind}) must come before every dense layer: rnnx models are recurrent layers followed by dense layers`);
    const next = layers[i + 1];
    if (next && isRecurrent(next) && !layer.returnSequences) {
      throw new Error(`layers[${i}].returnSequences must be true, got false: layers[${i + 1}] is recurrent and reads every step`);
    }
  });
  if (!layers.some(isRecurrent)) throw new Error('model.layers must contain at least one recurrent layer (rnn, lstm or gru)');
  return { inputSize, layers };
}

export const rnn = (o: RnnOptions): RnnLayerSpec => normalizeLayer({ kind: 'rnn', ...o }) as RnnLayerSpec;
export const lstm = (o: LstmOptions): LstmLayerSpec => normalizeLayer({ kind: 'lstm', ...o }) as LstmLayerSpec;
export const gru = (o: GruOptions): GruLayerSpec => normalizeLayer({ kind: 'gru', ...o }) as GruLayerSpec;
export const dense = (o: DenseOptions): DenseLayerSpec => normalizeLayer({ kind: 'dense', ...o }) as DenseLayerSpec;

/** True when the model's output has a time axis: [N, T, F] rather than [N, F]. */
export function outputIsSequence(spec: ModelSpec): boolean {
  const recurrent = spec.layers.filter(isRecurrent);
  return recurrent[recurrent.length - 1].returnSequences;
}

/** Feature count of the model's output. */
export function outputSize(spec: ModelSpec): number {
  const last = spec.layers[spec.layers.length - 1];
  return last.kind === 'dense' ? last.units : last.units * directionCount(last.direction);
}
