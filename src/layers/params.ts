// Parameter layout: every weight of a model lives in ONE flat Float32Array, and each layer's
// tensors are views into it, in ONNX layout. The native trainer updates that same buffer in
// place, and export copies the views straight into ONNX initializers: no reshuffle anywhere.
//
// Order inside the flat buffer, layer by layer:
//   recurrent: W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H] (W-biases then R-biases), P [D, 3H] (LSTM peepholes only)
//   dense:     W [in, units] (the MatMul layout: y = x·W + b), b [units]
// G = gate count (RNN 1, GRU 3 in z r h order, LSTM 4 in i o f c order).

import { directionCount, gateCount, isRecurrent, type LayerSpec, type ModelSpec } from './spec.js';

export interface TensorSlot {
  /** Element offset in the flat buffer. */
  offset: number;
  /** Shape in ONNX layout. */
  dims: number[];
  /** Element count (product of dims). */
  size: number;
}

export interface RecurrentParamLayout {
  kind: 'rnn' | 'lstm' | 'gru';
  inputSize: number;
  W: TensorSlot;
  R: TensorSlot;
  B: TensorSlot;
  P: TensorSlot | null;
}

export interface DenseParamLayout {
  kind: 'dense';
  inputSize: number;
  W: TensorSlot;
  b: TensorSlot;
}

export type LayerParamLayout = RecurrentParamLayout | DenseParamLayout;

export interface ParamLayout {
  layers: LayerParamLayout[];
  /** Total element count of the flat buffer. */
  total: number;
}

/** Input feature count of every layer, in order. */
export function layerInputSizes(spec: ModelSpec): number[] {
  const sizes: number[] = [];
  let width = spec.inputSize;
  for (const layer of spec.layers) {
    sizes.push(width);
    width = layerOutputWidth(layer);
  }
  return sizes;
}

export function layerOutputWidth(layer: LayerSpec): number {
  return isRecurrent(layer) ? layer.units * directionCount(layer.direction) : layer.units;
}

export function paramLayout(spec: ModelSpec): ParamLayout {
  let offset = 0;
  const slot = (dims: number[]): TensorSlot => {
    const size = dims.reduce((a, b) => a * b, 1);
    const s = { offset, dims, size };
    offset += size;
    return s;
  };
  const inputs = layerInputSizes(spec);
  const layers = spec.layers.map((layer, i): LayerParamLayout => {
    const inputSize = inputs[i];
    if (!isRecurrent(layer)) {
      return { kind: 'dense', inputSize, W: slot([inputSize, layer.units]), b: slot([layer.units]) };
    }
    const D = directionCount(layer.direction);
    const H = layer.units;
    const G = gateCount(layer.kind);
    return {
      kind: layer.kind,
      inputSize,
      W: slot([D, G * H, inputSize]),
      R: slot([D, G * H, H]),
      B: slot([D, 2 * G * H]),
      P: layer.kind === 'lstm' && layer.peepholes ? slot([D, 3 * H]) : null,
    };
  });
  return { layers, total: offset };
}

/** A view of one tensor inside the flat buffer (shares memory). */
export function view(flat: Float32Array, s: TensorSlot): Float32Array {
  return flat.subarray(s.offset, s.offset + s.size);
}
