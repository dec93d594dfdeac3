// What the serving layer needs from something that runs ONNX batches: the in-process engine
// (one InferenceModel) and the worker pool (one InferenceModel per worker) both provide it.

import type { LayerState } from '../runtime/inference.js';

export type { LayerState };

/** One recurrent layer's state: h (and c for LSTM), each [D, N, H] (D directions, N batch, H units). */
export interface LayerStateShape {
  directions: number;
  units: number;
  /** LSTM: a cell state c besides h. */
  hasCell: boolean;
}

/**
 * A batch for one ONNX Runtime run. `x` is [batch, time, inputSize] batch-first;
 * `state` (stateful graphs only) holds each recurrent layer's initial h (and c), [D, batch, H].
 */
export interface RunRequest {
  x: Float32Array;
  batch: number;
  time: number;
  sequenceLens?: Int32Array;
  state?: LayerState[];
}

/** `y` is [batch, time, F] (sequence output) or [batch, F]; `state`: final states, as in RunRequest. */
export interface RunResult {
  y: Float32Array;
  dims: number[];
  state?: LayerState[];
}

export interface Runner {
  run(req: RunRequest): Promise<RunResult>;
}

/** What the batcher and the streams must know about the graph they feed. */
export interface ServeModelInfo {
  inputSize: number;
  outputSize: number;
  /** true: y is [N, T, F], false: [N, F]. */
  returnsSequences: boolean;
  /** The graph has a `sequence_lens` input: requests of different lengths can share a run. */
  hasSequenceLens: boolean;
  /** Per recurrent layer, for stateful graphs; empty otherwise. */
  state: LayerStateShape[];
  /**
   * Why the model cannot stream, when some recurrent layer runs backwards in time ('reverse' or
   * 'bidirectional': it needs steps that have not arrived yet); null when every layer runs forward.
   */
  needsFuture: string | null;
  /**
   * Float32 values one run holds per batch row and time step (the input, each layer's output
   * and the recurrent layers' per-step gate projections), so the batcher can bound the padded
   * memory of a run. Absent: inputSize + outputSize.
   */
  stepFloats?: number;
}
