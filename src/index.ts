// Public API of rnnx.
export { rnn, lstm, gru, dense, normalizeModelSpec } from './layers/spec.js';
export type {
  Direction, LayerSpec, ModelSpec, RnnLayerSpec, LstmLayerSpec, GruLayerSpec, DenseLayerSpec,
  RnnOptions, LstmOptions, GruOptions, DenseOptions,
} from './layers/spec.js';
export { paramLayout } from './layers/params.js';
export type { ParamLayout, TensorSlot } from './layers/params.js';
export { Model } from './model/model.js';
export type { ModelMetadata, Normalization, CreateModelOptions, LayerParams } from './model/model.js';
