// Save and load: round trips are bit-identical, bad files fail with messages that say what was
// expected, and a failed save leaves no file behind.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, onnx } from '../src/graph/builder.js';
import { META, toModelProto, toOnnx } from '../src/graph/export.js';
import { parseModelProto, readRnnxInfo, saveModel, writeFileAtomic } from '../src/graph/io.js';
import { Rng } from '../src/layers/random.js';
import { dense, gru, lstm, rnn } from '../src/layers/spec.js';
import { loadModel, Model, modelFromOnnx } from '../src/model/model.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { randomArray, randomizeParams, viewProto, type ProtoView } from './reference/util.js';

const dir = mkdtempSync(join(tmpdir(), 'rnnx-io-'));
afterAll(() => {
  try {
    chmodSync(join(dir, 'readonly'), 0o755);
  } catch {
    // not created
  }
  rmSync(dir, { recursive: true, force: true });
});

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

function richModel(): Model {
  const m = Model.create(
    {
      inputSize: 4,
      layers: [
        lstm({ units: 5, direction: 'bidirectional', peepholes: true, clip: 3, inputForget: true, returnSequences: true }),
        gru({ units: 3, linearBeforeReset: 0, returnSequences: true }),
        rnn({ units: 2, activation: 'relu' }),
        dense({ units: 6, activation: 'tanh' }),
        dense({ units: 3, activation: 'softmax' }),
      ],
    },
    {
      seed: 42,
      metadata: {
        inputNormalization: { mean: [0.1, 0.2, -0.3, 1e-7], std: [1, 2, 3, 0.5] },
        vocabulary: ['a', 'é', '\n', '"'],
        extra: { task: 'test' },
      },
    },
  );
  // Values whose float32 bits a float64 round trip would not keep: subnormals, -0, odd mantissas.
  randomizeParams(m, 5);
  m.params[0] = -0;
  m.params[1] = 1.4e-45;
  m.params[2] = Math.fround(1 / 3);
  return m;
}

describe('save → load → save', () => {
  for (const opts of [{}, { sequenceLens: true }, { stateful: true }, { stateful: true, sequenceLens: true, opset: 17 }]) {
    it(`is byte-identical with weights, spec and metadata kept (${JSON.stringify(opts)})`, async () => {
      const m = richModel();
      const a = join(dir, 'a.onnx');
      const b = join(dir, 'b.onnx');
      m.save(a, opts);
      const loaded = Model.load(a);
      expect(loaded.spec).toEqual(m.spec);
      expect(loaded.metadata).toEqual(m.metadata);
      expect(Object.is(loaded.params[0], -0)).toBe(true);
      expect(bits(loaded.params)).toEqual(bits(m.params));
      loaded.save(b, opts);
      expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
      // The loaded model owns its own buffer (training it must not touch the original).
      expect(loaded.params.buffer).not.toBe(m.params.buffer);

      const info = readRnnxInfo(parseModelProto(readFileSync(a)));
      expect(info!.exportOptions).toEqual({ sequenceLens: false, stateful: false, opset: 14, ...opts });
      expect(info!.version).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);

      // Identical outputs from both files.
      const x = randomArray(new Rng(1), 2 * 3 * 4);
      const ia = await InferenceModel.open(a, { providers: ['cpu'] });
      const ib = await InferenceModel.open(b, { providers: ['cpu'] });
      try {
        const ya = await ia.run(x, { batch: 2 });
        const yb = await ib.run(x, { batch: 2 });
        expect(bits(yb.y)).toEqual(bits(ya.y));
        expect(ia.metadata).toEqual(m.metadata);
      } finally {
        await ia.release();
        await ib.release();
      }
    });
  }

  it('writes no temporary file beside the target', () => {
    const sub = join(dir, 'clean');
    mkdirSync(sub);
    saveModel(richModel(), join(sub, 'm.onnx'));
    expect(readdirSync(sub)).toEqual(['m.onnx']);
  });

  it('replaces an existing file', () => {
    const f = join(dir, 'replace.onnx');
    writeFileSync(f, 'old contents');
    const m = richModel();
    m.save(f);
    expect(bits(loadModel(f).params)).toEqual(bits(m.params));
  });
});

describe('bad files', () => {
  const good = toOnnx(richModel());

  it('a file that is not ONNX', () => {
    const f = join(dir, 'text.onnx');
    writeFileSync(f, 'hello, I am a text file and not a model at all\n');
    expect(() => loadModel(f)).toThrow(/text\.onnx is not an ONNX model/);
    const empty = join(dir, 'empty.onnx');
    writeFileSync(empty, '');
    expect(() => loadModel(empty)).toThrow(/empty\.onnx is not an ONNX model: it is empty/);
    expect(() => loadModel(join(dir, 'nope.onnx'))).toThrow(/nope\.onnx: cannot read: no such file or directory/);
  });

  it('a truncated file, cut anywhere', () => {
    const f = join(dir, 'cut.onnx');
    for (const frac of [0.05, 0.3, 0.5, 0.9, 0.999]) {
      writeFileSync(f, good.subarray(0, Math.floor(good.length * frac)));
      expect(() => loadModel(f), `cut at ${frac}`).toThrow(/cut\.onnx(?: is not an ONNX model|: initializer|: metadata_props|: producer_name is "rnnx" but metadata_props has none)/);
    }
  });

  it('a file cut cleanly between two metadata entries does not load without its metadata', () => {
    const full = toModelProto(richModel());
    const bytes = onnx.ModelProto.encode(full).finish();
    for (let k = 1; k < full.metadataProps.length; k++) {
      const p = toModelProto(richModel());
      p.metadataProps = p.metadataProps.slice(0, k);
      const prefix = onnx.ModelProto.encode(p).finish();
      // metadata_props is the last field written, so this is exactly a truncated file.
      expect(Buffer.compare(Buffer.from(bytes.subarray(0, prefix.length)), Buffer.from(prefix))).toBe(0);
      expect(() => modelFromOnnx(prefix, 'cut.onnx')).toThrow(/cut\.onnx: metadata_props has rnnx keys but no rnnx\.\w+ \(file truncated or edited\?\)/);
    }
  });

  it('a file cut just before its metadata (a valid ONNX model without the rnnx keys) is refused, not taken as foreign', () => {
    const p = toModelProto(richModel());
    p.metadataProps = [];
    const prefix = onnx.ModelProto.encode(p).finish();
    const bytes = onnx.ModelProto.encode(toModelProto(richModel())).finish();
    expect(Buffer.compare(Buffer.from(bytes.subarray(0, prefix.length)), Buffer.from(prefix))).toBe(0);
    expect(() => modelFromOnnx(prefix, 'cut.onnx')).toThrow('cut.onnx: producer_name is "rnnx" but metadata_props has none of the rnnx keys (rnnx.spec, ...): the file is truncated or was edited');
  });

  it('an ONNX file not written by rnnx goes to the importer, which names what stops it (tests/import.test.ts has the rest)', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float', ['n', 't', 2]);
    g.output(x, 'y', ['n', 't', 2]);
    const bytes = onnx.ModelProto.encode(g.build({ producerName: 'pytorch' })).finish();
    expect(() => modelFromOnnx(bytes, 'foreign.onnx')).toThrow('foreign.onnx: cannot import node "identity_1" (Identity) for training: output "y": no LSTM, GRU or RNN node lies between the input and the first output');
  });

  const edited = (edit: (p: ProtoView) => void) => {
    const p = viewProto(toModelProto(richModel()));
    edit(p);
    return onnx.ModelProto.encode(p).finish();
  };

  it('a spec that does not match the initializers', () => {
    const bytes = edited((p) => {
      const prop = p.metadataProps.find((q) => q.key === META.spec)!;
      const spec = JSON.parse(prop.value);
      spec.layers[1].units = 4;
      prop.value = JSON.stringify(spec);
    });
    expect(() => modelFromOnnx(bytes, 'm.onnx')).toThrow('m.onnx: initializer layers.1.W must have dims [1,12,10] for the spec in rnnx.spec, got [1,9,10]');
  });

  it('a missing initializer, a wrong data type, a bad spec', () => {
    expect(() => modelFromOnnx(edited((p) => p.graph.initializer.splice(2, 1)), 'm.onnx')).toThrow('m.onnx: initializer layers.0.B with dims [2,40] is missing');
    expect(() => modelFromOnnx(edited((p) => (p.graph.initializer[0].dataType = 11)), 'm.onnx')).toThrow('m.onnx: initializer layers.0.W must be float32 (data_type 1), got data_type 11');
    expect(() => modelFromOnnx(edited((p) => (p.graph.initializer[0].rawData = p.graph.initializer[0].rawData.subarray(4))), 'm.onnx')).toThrow(
      'm.onnx: initializer layers.0.W must hold 160 float32 values (640 bytes of raw_data), got 636 bytes',
    );
    const badSpec = edited((p) => (p.metadataProps.find((q) => q.key === META.spec)!.value = '{"inputSize":4,"layers":[{"kind":"transformer","units":3}]}'));
    expect(() => modelFromOnnx(badSpec, 'm.onnx')).toThrow('m.onnx: metadata_props rnnx.spec is not a valid model spec: layers[0].kind must be one of "rnn", "lstm", "gru", "dense", got "transformer"');
    const notJson = edited((p) => (p.metadataProps.find((q) => q.key === META.metadata)!.value = '{oops'));
    expect(() => modelFromOnnx(notJson, 'm.onnx')).toThrow(/m\.onnx: metadata_props rnnx\.metadata must be JSON/);
  });
});

describe('a failed save leaves nothing behind', () => {
  it('into a directory that does not exist', () => {
    const f = join(dir, 'no', 'such', 'dir', 'm.onnx');
    expect(() => richModel().save(f)).toThrow(/no\/such\/dir\/m\.onnx: cannot write: no such file or directory/);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it('when the rename fails (the target is a directory): the temporary file is removed', () => {
    const sub = join(dir, 'renamefail');
    mkdirSync(join(sub, 'm.onnx'), { recursive: true });
    expect(() => saveModel(richModel(), join(sub, 'm.onnx'))).toThrow(/m\.onnx: cannot write: it is a directory/);
    expect(readdirSync(sub)).toEqual(['m.onnx']);
  });

  // Root ignores directory permissions; the two cases above cover cleanup there.
  it.skipIf(process.getuid?.() === 0)('when the directory is not writable: the old file stays intact', () => {
    const sub = join(dir, 'readonly');
    mkdirSync(sub);
    writeFileAtomic(join(sub, 'm.onnx'), Uint8Array.of(1, 2, 3));
    chmodSync(sub, 0o555);
    expect(() => writeFileAtomic(join(sub, 'm.onnx'), Uint8Array.of(4))).toThrow(/m\.onnx: cannot write: permission denied/);
    expect(Array.from(readFileSync(join(sub, 'm.onnx')))).toEqual([1, 2, 3]);
    expect(readdirSync(sub)).toEqual(['m.onnx']);
  });
});
