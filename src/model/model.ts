// The trainable model: a validated spec plus one flat Float32Array of parameters in ONNX
// layout (see src/layers/params.ts). Export, training and inference all read these buffers.

// It sits at the top of the model side of the import graph: it may import export, file I/O and
// training; nothing below it (graph, train, runtime, serve) imports this class as a value.

import { initializeParams } from '../layers/init.js';
import { paramLayout, view, type ParamLayout } from '../layers/params.js';
import { toOnnx, type ExportOptions } from '../graph/export.js';
import { modelDataFromProto, parseModelProto, readModelBytes, readRnnxInfo, saveModel } from '../graph/io.js';
import { importedModelData } from '../graph/import.js';
import type { ModelProto } from '../graph/builder.js';
import type { SequenceDataset } from '../data/dataset.js';
import { fit, type FitOptions, type History } from '../train/fit.js';
import { normalizeModelSpec, outputIsSequence, outputSize, type LayerSpec, type ModelSpec } from '../layers/spec.js';
import type { ModelData, ModelMetadata } from './types.js';

export type { ModelData, ModelMetadata, Normalization } from './types.js';

export interface CreateModelOptions {
  /** Seed for reproducible initialisation. Default 1. */
  seed?: number;
  metadata?: ModelMetadata;
}

/** Views into the flat buffer for one layer. Recurrent: W, R, B, P (P null without peepholes); dense: W, b. */
export type LayerParams =
  | { kind: 'rnn' | 'lstm' | 'gru'; W: Float32Array; R: Float32Array; B: Float32Array; P: Float32Array | null }
  | { kind: 'dense'; W: Float32Array; b: Float32Array };

export class Model implements ModelData {
  readonly spec: ModelSpec;
  readonly layout: ParamLayout;
  /** Every parameter, in the order of `layout`. Training updates it in place. */
  readonly params: Float32Array;
  metadata: ModelMetadata;

  private constructor(spec: ModelSpec, params: Float32Array, metadata: ModelMetadata) {
    this.spec = spec;
    this.layout = paramLayout(spec);
    if (params.length !== this.layout.total) {
      throw new Error(`params must have length ${this.layout.total} for this model spec, got ${params.length}`);
    }
    this.params = params;
    this.metadata = metadata;
  }

  /** Builds a model with freshly initialised weights (Glorot W, orthogonal R, see src/layers/init.ts). */
  static create(spec: { inputSize: number; layers: LayerSpec[] } | ModelSpec, options: CreateModelOptions = {}): Model {
    const normalized = normalizeModelSpec(spec);
    const layout = paramLayout(normalized);
    const params = new Float32Array(layout.total);
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    initializeParams(normalized, params, seed, layout);
    return new Model(normalized, params, structuredClone(options.metadata ?? {}));
  }

  /** Wraps existing weights (copied) with a spec; used by load and by converters. */
  static fromParams(spec: ModelSpec, params: Float32Array, metadata: ModelMetadata = {}): Model {
    const normalized = normalizeModelSpec(spec);
    return new Model(normalized, Float32Array.from(params), structuredClone(metadata));
  }

  get inputSize(): number {
    return this.spec.inputSize;
  }

  /** Feature count of the output. */
  get outputSize(): number {
    return outputSize(this.spec);
  }

  /** true: output is [N, T, F]; false: [N, F]. */
  get returnsSequences(): boolean {
    return outputIsSequence(this.spec);
  }

  get parameterCount(): number {
    return this.layout.total;
  }

  /** The parameter tensors of layer `i` as views sharing memory with `params`. */
  layerParams(i: number): LayerParams {
    const l = this.layout.layers[i];
    if (!l) throw new Error(`layer index must be in [0, ${this.layout.layers.length}), got ${i}`);
    if (l.kind === 'dense') return { kind: 'dense', W: view(this.params, l.W), b: view(this.params, l.b) };
    return {
      kind: l.kind,
      W: view(this.params, l.W),
      R: view(this.params, l.R),
      B: view(this.params, l.B),
      P: l.P ? view(this.params, l.P) : null,
    };
  }

  clone(): Model {
    return Model.fromParams(this.spec, this.params, this.metadata);
  }

  /** The model as `.onnx` bytes (see src/graph/export.ts for the graph and the options). */
  toOnnx(options: ExportOptions = {}): Uint8Array {
    return toOnnx(this, options);
  }

  /** Writes the model to `path` as `.onnx`, atomically (temporary file, fsync, rename). */
  save(path: string, options: ExportOptions = {}): void {
    saveModel(this, path, options);
  }

  /** Trains in place with the native fused step (see src/train/fit.ts for every option). */
  fit(data: SequenceDataset, options: FitOptions = {}): Promise<History> {
    return fit(this, data, options);
  }

  /** Wraps plain model data (weights copied), e.g. what graph/io reads from a file. */
  static fromData(data: Pick<ModelData, 'spec' | 'params' | 'metadata'>): Model {
    return Model.fromParams(data.spec, data.params, data.metadata);
  }

  /**
   * Loads an `.onnx` file as a trainable model: an rnnx-written file with bit-identical weights,
   * or a foreign one (a PyTorch export of nn.LSTM / nn.GRU / nn.RNN, say) through the importer
   * (src/graph/import.ts), which throws an OnnxImportError naming the node it cannot map.
   */
  static load(path: string): Model {
    return Model.fromOnnx(readModelBytes(path), path);
  }

  /** Rebuilds a trainable model from `.onnx` bytes (rnnx-written or foreign; see `load`). */
  static fromOnnx(bytes: Uint8Array, source = 'model bytes'): Model {
    return Model.fromProto(parseModelProto(bytes, source), source);
  }

  /** Rebuilds a trainable model from a decoded ModelProto (rnnx-written or foreign; see `load`). @internal */
  static fromProto(proto: ModelProto, source = 'model'): Model {
    // Files without rnnx metadata go to the importer; a damaged rnnx file throws in readRnnxInfo.
    return Model.fromData(readRnnxInfo(proto, source) ? modelDataFromProto(proto, source) : importedModelData(proto, source));
  }
}

/** Loads an `.onnx` file (rnnx-written or an importable foreign one) into a trainable Model (same as `Model.load`). */
export function loadModel(path: string): Model {
  return Model.load(path);
}

/** Rebuilds a trainable Model from `.onnx` bytes, rnnx-written or foreign (same as `Model.fromOnnx`). */
export function modelFromOnnx(bytes: Uint8Array, source = 'model bytes'): Model {
  return Model.fromOnnx(bytes, source);
}

/** Rebuilds a trainable Model from a ModelProto, rnnx-written or foreign (same as `Model.fromProto`). @internal */
export function modelFromProto(proto: ModelProto, source = 'model'): Model {
  return Model.fromProto(proto, source);
}
