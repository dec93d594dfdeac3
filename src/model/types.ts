// Plain model data: what export, save, training and serving need from a model, as types only.
// `Model` (model.ts) implements `ModelData`; lower modules take `ModelData` so that none of them
// imports the Model class, and inference code never pulls in training code through it.

import type { ParamLayout } from '../layers/params.js';
import type { ModelSpec } from '../layers/spec.js';

/** Per-feature affine normalisation: x' = (x - mean) / std. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** What a model file carries besides weights, so that it can be used from the file alone. */
export interface ModelMetadata {
  /** Applied to inputs before the network (the caller's job at inference; stored for it). */
  inputNormalization?: Normalization;
  /** Inverse applied to outputs (forecasters trained on normalised targets). */
  targetNormalization?: Normalization;
  /** Char-level models: index → character. */
  vocabulary?: string[];
  /** Free-form string pairs kept in the file (task, data source, training figures...). */
  extra?: Record<string, string>;
}

/** A validated spec, its parameter layout, the flat parameter buffer (ONNX layout) and metadata. */
export interface ModelData {
  readonly spec: ModelSpec;
  readonly layout: ParamLayout;
  /** Every parameter, in the order of `layout`. */
  readonly params: Float32Array;
  metadata: ModelMetadata;
}
