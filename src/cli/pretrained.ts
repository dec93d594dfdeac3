// `"model": {"from": "pretrained.onnx"}` in `rnnx train` configs: fine-tune an existing model
// (an rnnx file, or a foreign ONNX file the importer maps, such as a PyTorch export) instead of
// creating one. Everything about it lives here; config.ts and train.ts call these functions.

import { basename, resolve } from 'node:path';
import { UserError } from '../data/errors.js';
import type { Model } from '../model/model.js';
import type { ModelMetadata } from '../model/types.js';
import { loadRnnxModel } from './model-file.js';

/** The config's `model` when it names a model to fine-tune. */
export interface PretrainedModelConfig {
  from: string;
}

/** True when the config's `model` is `{"from": ...}` rather than `{"layers": [...]}`. */
export function isPretrainedConfig(model: unknown): model is PretrainedModelConfig {
  return model !== null && typeof model === 'object' && 'from' in model;
}

/** Makes `model.from` relative to the config file's folder (as data.path and output paths are). */
export function resolvePretrainedPath(model: unknown, base: string): void {
  if (isPretrainedConfig(model) && typeof model.from === 'string' && model.from) model.from = resolve(base, model.from);
}

/** Checks the `{"from": ...}` form of the config's `model`, naming the field and what was received. */
export function validatePretrainedConfig(model: Record<string, unknown>, where: string): void {
  for (const key of Object.keys(model)) {
    if (key !== 'from') throw new UserError(`${where}: model: unknown option ${JSON.stringify(key)} next to model.from; a model is either {"from": "file.onnx"} (fine-tune it) or {"layers": [...]} (create one)`);
  }
  if (typeof model.from !== 'string' || !model.from) throw new UserError(`${where}: model.from must be the path of an .onnx model to fine-tune, got ${JSON.stringify(model.from)}`);
}

/** What the prepared data needs from the model: input features, and the target's shape. */
export interface PretrainedDataNeeds {
  inputSize: number;
  /** yShape of the training set: [count, F] / [count, T, F] for values, [count] / [count, T] for class labels. */
  yShape: number[];
  /** true when the targets are class labels (Int32Array). */
  labels: boolean;
  /** Number of classes when known (sequence classification, character vocabulary). */
  classes?: number;
  metadata: ModelMetadata;
}

/**
 * Loads the model named by `model.from`, checks that it fits the data (input features, output
 * size and whether it outputs every step) and gives it the data's metadata (normalisation,
 * vocabulary...) while keeping what the file recorded about its origin (import.* keys).
 */
export function loadPretrained(from: string, data: PretrainedDataNeeds, where: string): Model {
  const model = loadRnnxModel(from);
  const field = `${where}: model.from (${from})`;
  if (model.inputSize !== data.inputSize) {
    throw new UserError(`${field}: the model reads ${model.inputSize} features per step, the data has ${data.inputSize}`);
  }
  const seq = data.labels ? data.yShape.length === 2 : data.yShape.length === 3;
  if (model.returnsSequences !== seq) {
    throw new UserError(`${field}: the model outputs ${model.returnsSequences ? 'every step' : 'the last step only'}, the data's targets are ${seq ? 'per step' : 'one per sequence'}`);
  }
  const want = data.labels ? data.classes : data.yShape[data.yShape.length - 1];
  if (want !== undefined && (data.labels ? model.outputSize < want : model.outputSize !== want)) {
    throw new UserError(`${field}: the model outputs ${model.outputSize} values per ${seq ? 'step' : 'sequence'}, the data needs ${data.labels ? `one per class (${want})` : want}`);
  }
  const before = model.metadata.extra ?? {};
  const origin = Object.fromEntries(Object.entries(before).filter(([k]) => k.startsWith('import.')));
  model.metadata = { ...structuredClone(data.metadata), extra: { ...origin, ...(data.metadata.extra ?? {}), pretrained: basename(from) } };
  return model;
}
