// Export to a Triton Inference Server model repository, ONNX Runtime backend:
//
//   DIR/<name>/config.pbtxt     the model configuration (protobuf text format of Triton's
//                               inference.ModelConfig, protobuf/model_config.proto)
//   DIR/<name>/1/model.onnx     the graph
//
// Stateless: input x [-1, I] and output y ([-1, F] or [F]) per request, the batch dimension
// implied by max_batch_size, with dynamic_batching (Triton batches equal-length requests).
// Stateful (`stateful: true`): sequence_batching with implicit state, so Triton carries each
// sequence's h (and c) between requests of one correlation ID: a state pair per recurrent layer
// (input h0_k → output hT_k), zero at a sequence's start. Triton puts the batch dimension first
// in state tensors, while ONNX's recurrent operators take [D, N, H]; the graph written for Triton
// therefore takes and returns states batch-first, [N, D, H], with a Transpose at each end.

import { onnx, type INodeProto, type ModelProto } from './builder.js';
import type { onnx as OnnxTypes } from 'onnx-proto';

type IValueInfoProto = OnnxTypes.IValueInfoProto;
import { toModelProto } from './export.js';
import { directionCount, isRecurrent, outputIsSequence, outputSize, type ModelSpec } from '../layers/spec.js';
import type { ModelData } from '../model/types.js';

export interface TritonOptions {
  /** Model name (folder and `name:`). */
  name: string;
  /** max_batch_size. Default 64. */
  maxBatchSize?: number;
  /** dynamic_batching / sequence_batching max_queue_delay_microseconds. Default 2000 (rnnx serve's maxWaitMs 2). */
  maxQueueDelayMicroseconds?: number;
  /** Sequence batching with implicit state instead of dynamic batching. */
  stateful?: boolean;
  opset?: number;
}

function checkName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name) || name === '.' || name === '..') {
    throw new Error(`Triton model name must be 1-128 characters of letters, digits, '_', '.' or '-', got ${JSON.stringify(name)}`);
  }
  return name;
}

/** config.pbtxt text for `spec` (protobuf text format, fields of inference.ModelConfig). */
export function tritonConfig(spec: ModelSpec, options: TritonOptions): string {
  const name = checkName(options.name);
  const maxBatch = options.maxBatchSize ?? 64;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error(`maxBatchSize must be a positive integer, got ${maxBatch}`);
  const delay = options.maxQueueDelayMicroseconds ?? 2000;
  if (!Number.isInteger(delay) || delay < 0) throw new Error(`maxQueueDelayMicroseconds must be an integer >= 0, got ${delay}`);
  const F = outputSize(spec);
  const yDims = outputIsSequence(spec) ? [-1, F] : [F];
  const lines = [
    `name: "${name}"`,
    'backend: "onnxruntime"',
    `max_batch_size: ${maxBatch}`,
    'input [',
    `  { name: "x" data_type: TYPE_FP32 dims: [ -1, ${spec.inputSize} ] }`,
    ']',
    'output [',
    `  { name: "y" data_type: TYPE_FP32 dims: [ ${yDims.join(', ')} ] }`,
    ']',
  ];
  if (!options.stateful) {
    lines.push('dynamic_batching {', `  max_queue_delay_microseconds: ${delay}`, '}');
  } else {
    const states: string[] = [];
    spec.layers.filter(isRecurrent).forEach((l, k) => {
      const dims = `[ ${directionCount(l.direction)}, ${l.units} ]`;
      for (const [i, o] of l.kind === 'lstm' ? [[`h0_${k}`, `hT_${k}`], [`c0_${k}`, `cT_${k}`]] : [[`h0_${k}`, `hT_${k}`]]) {
        states.push(
          '  state {',
          `    input_name: "${i}"`,
          `    output_name: "${o}"`,
          '    data_type: TYPE_FP32',
          `    dims: ${dims}`,
          `    initial_state { name: "zeros" data_type: TYPE_FP32 dims: ${dims} zero_data: true }`,
          '  }',
        );
      }
    });
    lines.push(
      'sequence_batching {',
      `  max_sequence_idle_microseconds: 600000000`,
      `  direct { max_queue_delay_microseconds: ${delay} }`,
      ...states,
      '}',
    );
  }
  lines.push('instance_group [ { kind: KIND_AUTO count: 1 } ]');
  return `${lines.join('\n')}\n`;
}

/**
 * The graph for Triton: the stateless export, or for `stateful` the stateful export with its
 * state inputs and outputs made batch-first ([N, D, H], see the file header).
 */
export function tritonGraph(model: ModelData, options: { stateful?: boolean; opset?: number }): Uint8Array {
  const proto = toModelProto(model, { stateful: options.stateful ?? false, opset: options.opset });
  if (options.stateful) batchFirstState(proto);
  return onnx.ModelProto.encode(proto).finish();
}

/** Rewrites h0_k/c0_k inputs and hT_k/cT_k outputs from [D, N, H] to [N, D, H] with Transposes. */
function batchFirstState(proto: ModelProto): void {
  const g = proto.graph!;
  const isState = (n: string) => /^[hc](0|T)_\d+$/.test(n);
  const swap = (vi: IValueInfoProto) => {
    const dim = vi.type!.tensorType!.shape!.dim!;
    [dim[0], dim[1]] = [dim[1], dim[0]];
  };
  const front: INodeProto[] = [];
  for (const vi of g.input ?? []) {
    if (!isState(vi.name ?? '')) continue;
    const name = vi.name!;
    const inner = `${name}_dnh`;
    for (const n of g.node ?? []) n.input = (n.input ?? []).map((x) => (x === name ? inner : x));
    front.push(onnx.NodeProto.create({ opType: 'Transpose', name: `triton_${name}`, input: [name], output: [inner], attribute: [onnx.AttributeProto.create({ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0, 2] })] }));
    swap(vi);
  }
  const back: INodeProto[] = [];
  for (const vi of g.output ?? []) {
    if (!isState(vi.name ?? '')) continue;
    const name = vi.name!;
    const inner = `${name}_dnh`;
    for (const n of g.node ?? []) {
      n.output = (n.output ?? []).map((x) => (x === name ? inner : x));
      // The final state may also feed the rest of the graph (the last step's h as features).
      n.input = (n.input ?? []).map((x) => (x === name ? inner : x));
    }
    back.push(onnx.NodeProto.create({ opType: 'Transpose', name: `triton_${name}`, input: [inner], output: [name], attribute: [onnx.AttributeProto.create({ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0, 2] })] }));
    swap(vi);
  }
  g.node = [...front, ...(g.node ?? []), ...back];
}
