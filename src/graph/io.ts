// Saving and loading rnnx models as .onnx files. A file carries everything needed to rebuild the
// trainable model: the spec and metadata as JSON in metadata_props, the weights as initializers
// named layers.<i>.<W|R|B|P|b> in the very layout the flat parameter buffer uses.

import { paramLayout, type TensorSlot } from '../layers/params.js';
import { normalizeModelSpec, type ModelSpec } from '../layers/spec.js';
import type { ModelData, ModelMetadata } from '../model/types.js';
import { leBytesToFloat32, onnx, type ModelProto } from './builder.js';
import { initializerName, META, toOnnx, type ExportOptions, type ResolvedExportOptions } from './export.js';
import { assertFiniteInitializers } from './finite.js';
import { readBytes, writeFileAtomic } from '../data/files.js';

export { writeFileAtomic };

/** What rnnx wrote into a file's metadata_props. */
export interface RnnxFileInfo {
  version: string;
  spec: ModelSpec;
  metadata: ModelMetadata;
  exportOptions: ResolvedExportOptions;
}

type Long = { toNumber(): number };
/** protobufjs decodes int64 fields as Long objects when the `long` package is installed. */
export function int64ToNumber(v: number | Long | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * Decodes `.onnx` bytes into a ModelProto, throwing an Error that names `source` when the
 * bytes are not an ONNX model (not protobuf, truncated, or without the fields every model has).
 * @internal onnx-proto types stay out of the public declarations.
 */
export function parseModelProto(bytes: Uint8Array, source = 'model bytes'): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new Error(`${source}: expected a Uint8Array of ONNX bytes, got ${typeof bytes}`);
  if (bytes.length === 0) throw new Error(`${source} is not an ONNX model: it is empty`);
  let proto: ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${source} is not an ONNX model, or it is truncated: protobuf decoding failed (${(e as Error).message})`);
  }
  const ir = int64ToNumber(proto.irVersion);
  if (!(ir >= 3 && ir <= 20)) throw new Error(`${source} is not an ONNX model: expected ir_version in [3, 20], got ${ir}`);
  if (!proto.graph) throw new Error(`${source} is not an ONNX model, or it is truncated: it has no graph`);
  if (!proto.opsetImport || proto.opsetImport.length === 0) {
    throw new Error(`${source} is not an ONNX model, or it is truncated: it has no opset_import`);
  }
  return proto;
}

/** The rnnx metadata of a file, or null when the file was not written by rnnx. Throws when present but malformed. @internal */
export function readRnnxInfo(proto: ModelProto, source = 'model'): RnnxFileInfo | null {
  const props = new Map((proto.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  if (![...props.keys()].some((k) => k.startsWith('rnnx.'))) {
    // metadata_props is the last field of the file: a file cut just before it still decodes as a
    // valid model, which would run without its normalisation or vocabulary. rnnx always writes it.
    if (proto.producerName === 'rnnx') {
      throw new Error(`${source}: producer_name is "rnnx" but metadata_props has none of the rnnx keys (${META.spec}, ...): the file is truncated or was edited`);
    }
    return null;
  }
  // Every key is required: rnnx always writes all of them, and a file cut between two of them
  // must not load as a model that silently lost its normalisation or vocabulary.
  const required = (key: string): string => {
    const text = props.get(key);
    if (text === undefined) throw new Error(`${source}: metadata_props has rnnx keys but no ${key} (file truncated or edited?)`);
    return text;
  };
  const parse = (key: string): unknown => {
    const text = required(key);
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(`${source}: metadata_props ${key} must be JSON, got ${JSON.stringify(text.slice(0, 80))} (${(e as Error).message})`);
    }
  };
  let spec: ModelSpec;
  try {
    spec = normalizeModelSpec(parse(META.spec));
  } catch (e) {
    throw new Error(`${source}: metadata_props ${META.spec} is not a valid model spec: ${(e as Error).message}`);
  }
  const metadata = parse(META.metadata);
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new Error(`${source}: metadata_props ${META.metadata} must be a JSON object, got ${JSON.stringify(metadata)}`);
  }
  const exp = parse(META.export) as Partial<ResolvedExportOptions> | null;
  if (exp === null || typeof exp !== 'object' || Array.isArray(exp)) {
    throw new Error(`${source}: metadata_props ${META.export} must be a JSON object, got ${JSON.stringify(exp)}`);
  }
  return {
    version: required(META.version),
    spec,
    metadata: metadata as ModelMetadata,
    exportOptions: { sequenceLens: exp.sequenceLens === true, stateful: exp.stateful === true, opset: typeof exp.opset === 'number' ? exp.opset : 14 },
  };
}

/** The spec, weights (bit-identical) and metadata of an rnnx-written ModelProto, as plain data. @internal */
export function modelDataFromProto(proto: ModelProto, source = 'model'): ModelData {
  const info = readRnnxInfo(proto, source);
  if (!info) {
    const producer = proto.producerName ? ` (producer_name ${JSON.stringify(proto.producerName)})` : '';
    throw new Error(`${source} was not written by rnnx${producer}: expected metadata_props ${META.spec}; use InferenceModel to run foreign ONNX files`);
  }
  assertFiniteInitializers(proto.graph, source);
  const layout = paramLayout(info.spec);
  const params = new Float32Array(layout.total);
  const byName = new Map((proto.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const read = (name: string, slot: TensorSlot) => {
    const t = byName.get(name);
    if (!t) throw new Error(`${source}: initializer ${name} with dims ${JSON.stringify(slot.dims)} is missing (the file's spec needs it; file truncated or edited?)`);
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) throw new Error(`${source}: initializer ${name} must be float32 (data_type 1), got data_type ${t.dataType}`);
    const dims = (t.dims ?? []).map(int64ToNumber);
    if (dims.length !== slot.dims.length || dims.some((d, i) => d !== slot.dims[i])) {
      throw new Error(`${source}: initializer ${name} must have dims ${JSON.stringify(slot.dims)} for the spec in ${META.spec}, got ${JSON.stringify(dims)}`);
    }
    const into = params.subarray(slot.offset, slot.offset + slot.size);
    if (t.rawData && t.rawData.length > 0) {
      if (t.rawData.length !== slot.size * 4) {
        throw new Error(`${source}: initializer ${name} must hold ${slot.size} float32 values (${slot.size * 4} bytes of raw_data), got ${t.rawData.length} bytes`);
      }
      leBytesToFloat32(t.rawData, into);
    } else if (t.floatData && t.floatData.length === slot.size) {
      into.set(t.floatData);
    } else {
      throw new Error(`${source}: initializer ${name} must hold ${slot.size} float32 values, got ${t.floatData?.length ?? 0}`);
    }
  };
  layout.layers.forEach((l, i) => {
    if (l.kind === 'dense') {
      read(initializerName(i, 'W'), l.W);
      read(initializerName(i, 'b'), l.b);
    } else {
      read(initializerName(i, 'W'), l.W);
      read(initializerName(i, 'R'), l.R);
      read(initializerName(i, 'B'), l.B);
      if (l.P) read(initializerName(i, 'P'), l.P);
    }
  });
  return { spec: info.spec, layout, params, metadata: info.metadata };
}

/** The bytes of a model file, with an Error naming the path when it cannot be read. */
export function readModelBytes(path: string): Uint8Array {
  if (typeof path !== 'string' || path === '') throw new Error(`loadModel: path must be a non-empty string, got ${JSON.stringify(path)}`);
  return readBytes(path);
}

/** Reads an rnnx-written `.onnx` file as plain model data (`Model.load` wraps it in a Model). */
export function readModelFile(path: string): ModelData {
  return modelDataFromProto(parseModelProto(readModelBytes(path), path), path);
}

/** Exports `model` (see toOnnx for the options) and writes it to `path` atomically. */
export function saveModel(model: ModelData, path: string, options: ExportOptions = {}): void {
  writeFileAtomic(path, toOnnx(model, options));
}
