// Reading rnnx files back (src/graph/io.ts) and the export options (src/graph/export.ts): every
// check of a ModelProto names the source and what was expected; weights stored as float_data
// load like raw_data; the version written is package.json's.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onnx } from '../src/graph/builder.js';
import { META, resolveExportOptions, rnnxVersion, toModelProto, toOnnx } from '../src/graph/export.js';
import { int64ToNumber, modelDataFromProto, parseModelProto, readModelBytes, readModelFile, readRnnxInfo, saveModel } from '../src/graph/io.js';
import { dense, gru } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { randomizeParams, viewProto } from './reference/util.js';

const model = () => {
  const m = Model.create({ inputSize: 2, layers: [gru({ units: 3 }), dense({ units: 1, activation: 'sigmoid' })] }, { seed: 1, metadata: { extra: { k: 'v' } } });
  randomizeParams(m, 2);
  return m;
};
const encode = (p: ReturnType<typeof toModelProto>) => onnx.ModelProto.encode(p).finish();
const setMeta = (p: ReturnType<typeof toModelProto>, key: string, value: string | null) => {
  p.metadataProps = p.metadataProps.filter((q) => q.key !== key);
  if (value !== null) p.metadataProps.push(onnx.StringStringEntryProto.create({ key, value }));
  return p;
};

describe('parseModelProto', () => {
  it('refuses what is not a decodable ONNX model, naming the source', () => {
    expect(() => parseModelProto('abc' as never)).toThrow('model bytes: expected a Uint8Array of ONNX bytes, got string');
    expect(() => parseModelProto(new Uint8Array(0), 'f.onnx')).toThrow('f.onnx is not an ONNX model: it is empty');
    expect(() => parseModelProto(Uint8Array.of(0xff, 0xff, 0xff), 'f.onnx')).toThrow(/^f\.onnx is not an ONNX model, or it is truncated: protobuf decoding failed \(/);
    for (const ir of [2, 21, 0]) {
      const p = toModelProto(model());
      p.irVersion = ir;
      expect(() => parseModelProto(encode(p), 'f.onnx'), String(ir)).toThrow(`f.onnx is not an ONNX model: expected ir_version in [3, 20], got ${ir}`);
    }
    for (const ir of [3, 20]) {
      const p = toModelProto(model());
      p.irVersion = ir;
      expect(int64ToNumber(parseModelProto(encode(p)).irVersion)).toBe(ir);
    }
    const noGraph = toModelProto(model());
    noGraph.graph = null;
    expect(() => parseModelProto(encode(noGraph), 'f.onnx')).toThrow('f.onnx is not an ONNX model, or it is truncated: it has no graph');
    const noOpset = toModelProto(model());
    noOpset.opsetImport = [];
    expect(() => parseModelProto(encode(noOpset), 'f.onnx')).toThrow('f.onnx is not an ONNX model, or it is truncated: it has no opset_import');
  });

  it('int64ToNumber reads numbers, Longs and absent values', () => {
    expect([int64ToNumber(5), int64ToNumber(null), int64ToNumber(undefined), int64ToNumber({ toNumber: () => 7 })]).toEqual([5, 0, 0, 7]);
  });

  it('readModelBytes wants a path', () => {
    expect(() => readModelBytes('')).toThrow('loadModel: path must be a non-empty string, got ""');
    expect(() => readModelBytes(3 as never)).toThrow('loadModel: path must be a non-empty string, got 3');
  });
});

describe('readRnnxInfo and modelDataFromProto', () => {
  it('a file without rnnx keys is foreign (null), with its producer named when it has one', () => {
    const p = toModelProto(model());
    p.metadataProps = [onnx.StringStringEntryProto.create({ key: 'other', value: '1' })];
    p.producerName = 'pytorch';
    expect(readRnnxInfo(p)).toBeNull();
    expect(() => modelDataFromProto(p, 'f.onnx')).toThrow('f.onnx was not written by rnnx (producer_name "pytorch"): expected metadata_props rnnx.spec; use InferenceModel to run foreign ONNX files');
    p.producerName = '';
    expect(() => modelDataFromProto(p, 'f.onnx')).toThrow('f.onnx was not written by rnnx: expected metadata_props rnnx.spec; use InferenceModel to run foreign ONNX files');
    expect(() => modelDataFromProto(p)).toThrow(/^model was not written by rnnx/);
  });

  it('each rnnx key is required and must be JSON of the right kind', () => {
    for (const key of [META.version, META.spec, META.metadata, META.export]) {
      expect(() => readRnnxInfo(setMeta(toModelProto(model()), key, null), 'f.onnx'), key).toThrow(`f.onnx: metadata_props has rnnx keys but no ${key} (file truncated or edited?)`);
    }
    expect(() => readRnnxInfo(setMeta(toModelProto(model()), META.export, `{${'x'.repeat(100)}`), 'f.onnx')).toThrow(`f.onnx: metadata_props rnnx.export must be JSON, got "{${'x'.repeat(79)}" (`);
    for (const v of ['[1]', 'null', '3']) {
      expect(() => readRnnxInfo(setMeta(toModelProto(model()), META.metadata, v), 'f.onnx')).toThrow(`f.onnx: metadata_props rnnx.metadata must be a JSON object, got ${v}`);
      expect(() => readRnnxInfo(setMeta(toModelProto(model()), META.export, v), 'f.onnx')).toThrow(`f.onnx: metadata_props rnnx.export must be a JSON object, got ${v}`);
    }
    // Export options: what the file says, defaults for what it does not.
    expect(readRnnxInfo(setMeta(toModelProto(model()), META.export, '{"sequenceLens":true,"stateful":true,"opset":16}'))!.exportOptions).toEqual({ sequenceLens: true, stateful: true, opset: 16 });
    expect(readRnnxInfo(setMeta(toModelProto(model()), META.export, '{"sequenceLens":1,"stateful":"yes","opset":"16"}'))!.exportOptions).toEqual({ sequenceLens: false, stateful: false, opset: 14 });
    const info = readRnnxInfo(toModelProto(model(), { stateful: true, opset: 15 }))!;
    expect(info).toMatchObject({ version: rnnxVersion(), metadata: { extra: { k: 'v' } }, exportOptions: { sequenceLens: false, stateful: true, opset: 15 } });
  });

  it('weights stored as float_data load like raw_data; a wrong count is refused', () => {
    const m = model();
    const p = viewProto(toModelProto(m));
    const t = p.graph.initializer[0] as unknown as { rawData: Uint8Array | null; floatData: number[]; name: string };
    const raw = t.rawData!;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    t.floatData = Array.from({ length: raw.length / 4 }, (_, i) => dv.getFloat32(i * 4, true));
    t.rawData = new Uint8Array(0);
    const back = modelDataFromProto(onnx.ModelProto.decode(encode(p)), 'f.onnx');
    expect(Buffer.from(back.params.buffer).equals(Buffer.from(m.params.buffer))).toBe(true);
    t.floatData = t.floatData.slice(1);
    expect(() => modelDataFromProto(onnx.ModelProto.decode(encode(p)), 'f.onnx')).toThrow(`f.onnx: initializer ${t.name} must hold ${raw.length / 4} float32 values, got ${raw.length / 4 - 1}`);
    t.floatData = [];
    expect(() => modelDataFromProto(onnx.ModelProto.decode(encode(p)), 'f.onnx')).toThrow(`f.onnx: initializer ${t.name} must hold ${raw.length / 4} float32 values, got 0`);
  });

  it('a non-finite initializer is refused before the weights are read', () => {
    const p = viewProto(toModelProto(model()));
    const t = p.graph.initializer[1];
    new DataView(t.rawData.buffer, t.rawData.byteOffset).setFloat32(0, NaN, true);
    expect(() => modelDataFromProto(p as never, 'f.onnx')).toThrow(`f.onnx: initializer ${t.name} has 1 non-finite value (NaN or ±Infinity) of ${t.rawData.length / 4}; refusing a model with non-finite weights`);
  });
});

describe('tensors and fields a hand-made ModelProto may leave out', () => {
  // toModelProto's nested messages are plain objects: a field never set is undefined there (a
  // decoded proto would read the default instead), and modelDataFromProto takes either.
  it('an initializer whose dims are a prefix of the slot\'s, or absent, is refused by its dims', () => {
    const p = toModelProto(model());
    const W = p.graph!.initializer!.find((t) => t.name === 'layers.0.W')!;
    expect(W.dims).toEqual([1, 9, 2]);
    // [1, 9] holds 9 values, but the raw_data (18 values) is left as it was: only the dims differ.
    W.dims = [1, 9];
    expect(() => modelDataFromProto(p, 'f.onnx')).toThrow('f.onnx: initializer layers.0.W must have dims [1,9,2] for the spec in rnnx.spec, got [1,9]');
    delete W.dims;
    expect(() => modelDataFromProto(p, 'f.onnx')).toThrow('f.onnx: initializer layers.0.W must have dims [1,9,2] for the spec in rnnx.spec, got []');
  });

  it('an initializer with neither raw_data nor float_data holds 0 values', () => {
    const p = toModelProto(model());
    const W = p.graph!.initializer!.find((t) => t.name === 'layers.0.W')!;
    delete W.rawData;
    expect(W.floatData).toBeUndefined();
    expect(() => modelDataFromProto(p, 'f.onnx')).toThrow('f.onnx: initializer layers.0.W must hold 18 float32 values, got 0');
  });

  it('a graph without initializers misses the first weight', () => {
    const p = toModelProto(model());
    p.graph = null;
    expect(() => modelDataFromProto(p, 'f.onnx')).toThrow('f.onnx: initializer layers.0.W with dims [1,9,2] is missing (the file\'s spec needs it; file truncated or edited?)');
  });

  it('a metadata entry without a value reads as empty text; the default source is "model"', () => {
    const p = toModelProto(model());
    p.metadataProps.find((q) => q.key === META.metadata)!.value = null as never;
    expect(() => readRnnxInfo(p, 'f.onnx')).toThrow(/^f\.onnx: metadata_props rnnx\.metadata must be JSON, got "" \(/);
    expect(() => readRnnxInfo(p)).toThrow(/^model: metadata_props rnnx\.metadata must be JSON, got "" \(/);
  });
});

describe('readModelFile', () => {
  it('reads back what saveModel wrote, weights bit for bit, and names a missing path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnx-io-'));
    try {
      const m = model();
      const path = join(dir, 'm.onnx');
      saveModel(m, path);
      const back = readModelFile(path);
      expect(back.spec).toEqual(m.spec);
      expect(back.metadata).toEqual({ extra: { k: 'v' } });
      expect(Buffer.from(back.params.buffer).equals(Buffer.from(m.params.buffer))).toBe(true);
      expect(() => readModelFile(join(dir, 'none.onnx'))).toThrow(join(dir, 'none.onnx'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('export options', () => {
  it('are checked by field and filled with defaults', () => {
    expect(resolveExportOptions()).toEqual({ sequenceLens: false, stateful: false, opset: 14 });
    expect(resolveExportOptions({ sequenceLens: true, stateful: false, opset: 17 })).toEqual({ sequenceLens: true, stateful: false, opset: 17 });
    expect(() => resolveExportOptions(null as never)).toThrow('export options must be an object, got null');
    expect(() => resolveExportOptions('x' as never)).toThrow('export options must be an object, got x');
    for (const opset of [13, 18, 14.5]) expect(() => resolveExportOptions({ opset }), String(opset)).toThrow(`export options.opset must be an integer in [14, 17], got ${opset}`);
    expect(() => resolveExportOptions({ sequenceLens: 1 as never })).toThrow('export options.sequenceLens must be a boolean, got 1');
  });

  it('the version written is package.json\'s', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(rnnxVersion()).toBe(pkg.version);
    expect(rnnxVersion()).toBe(pkg.version);
    expect(toModelProto(model()).producerVersion).toBe(pkg.version);
  });

  it('non-finite weights are never exported: the count and the first one are named', () => {
    const m = model();
    m.params[3] = NaN;
    m.params[7] = -Infinity;
    let err: (Error & { code?: string }) | null = null;
    try {
      toOnnx(m);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toBe('export: the model has 2 non-finite weights (first: params[3] = NaN); refusing to write it');
    expect(err?.code).toBe('RNNX_NON_FINITE');
    m.params[3] = 0;
    expect(() => toOnnx(m)).toThrow('export: the model has 1 non-finite weight (first: params[7] = -Infinity); refusing to write it');
    m.params[7] = 0;
    m.params[0] = Infinity;
    expect(() => toOnnx(m)).toThrow('export: the model has 1 non-finite weight (first: params[0] = Infinity); refusing to write it');
    // The first stays params[0] when later ones follow it.
    m.params[5] = NaN;
    expect(() => toOnnx(m)).toThrow('export: the model has 2 non-finite weights (first: params[0] = Infinity); refusing to write it');
  });

  it('the graph is named rnnx', () => {
    expect(toModelProto(model()).graph!.name).toBe('rnnx');
    expect(parseModelProto(toOnnx(model())).graph!.name).toBe('rnnx');
  });

  it('model data whose layout does not match its spec is refused as an internal error', () => {
    // ModelData is plain data: a hand-made one can pair a spec with another spec's layout.
    const rec = model();
    const denseFirst = { spec: { ...rec.spec, layers: [rec.spec.layers[1], rec.spec.layers[0]] }, layout: rec.layout, params: rec.params, metadata: {} };
    expect(() => toModelProto(denseFirst)).toThrow('internal: layer 1 layout is dense, spec says gru');
    const noDense = { spec: rec.spec, layout: { ...rec.layout, layers: [rec.layout.layers[0], rec.layout.layers[0]] }, params: rec.params, metadata: {} };
    expect(() => toModelProto(noDense)).toThrow('internal: layout does not match spec');
    const denseOnly = { spec: { ...rec.spec, layers: [rec.spec.layers[1]] }, layout: { ...rec.layout, layers: [rec.layout.layers[1]] }, params: rec.params, metadata: {} };
    expect(() => toModelProto(denseOnly)).toThrow('internal: model has no recurrent layer');
  });
});
