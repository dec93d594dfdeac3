// InferenceModel.open against ONNX Runtime itself: the process-wide log level it lowers (and the
// one it leaves alone), what happens when ONNX Runtime refuses to create a session (strict or
// not), and a backend that onnxruntime-node lists but cannot start falling back to the CPU.
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GraphBuilder, onnx } from '../src/graph/builder.js';
import { InferenceModel } from '../src/runtime/inference.js';
import { ProviderUnavailableError } from '../src/runtime/providers.js';

/** y = x: a graph every session can run. */
function identityBytes(): Uint8Array {
  const g = new GraphBuilder();
  g.output(g.input('x', 'float', ['n', 't', 2]), 'y', ['n', 't', 2]);
  return onnx.ModelProto.encode(g.build()).finish();
}

/** A well-formed ONNX file that ONNX Runtime refuses: an operator no opset defines. */
function unknownOpBytes(): Uint8Array {
  const g = new GraphBuilder();
  const [y] = g.node('NoSuchOp', [g.input('x', 'float', ['n', 't', 2])], [{ elemType: 'float', shape: ['n', 't', 2] }]);
  g.output(y!, 'y', ['n', 't', 2]);
  return onnx.ModelProto.encode(g.build()).finish();
}

describe("ONNX Runtime's process-wide log level", () => {
  afterEach(() => { ort.env.logLevel = 'warning'; });

  it("is lowered to 'fatal' from its default 'warning', and an application's own choice is kept", async () => {
    // The application chose a level: rnnx leaves it.
    ort.env.logLevel = 'error';
    const a = await InferenceModel.open(identityBytes(), { providers: ['cpu'] });
    await a.release();
    expect(ort.env.logLevel).toBe('error');
    // 'warning' is the default (the getter never returns undefined): rnnx quiets it.
    ort.env.logLevel = 'warning';
    const b = await InferenceModel.open(identityBytes(), { providers: ['cpu'] });
    await b.release();
    expect(ort.env.logLevel).toBe('fatal');
  });
});

describe('a session ONNX Runtime refuses to create', () => {
  it('strict: a ProviderUnavailableError for that provider, with ONNX Runtime\'s reason', async () => {
    const err = await InferenceModel.open(unknownOpBytes(), { providers: ['cpu'], strict: true }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    const e = err as ProviderUnavailableError;
    expect(e.provider).toBe('cpu');
    expect(e.reason).toMatch(/^session creation failed: .*NoSuchOp/);
  });

  it('not strict: one Error naming the source and every provider tried, each with its reason', async () => {
    const err = await InferenceModel.open(unknownOpBytes(), { providers: ['cpu'] }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ProviderUnavailableError);
    expect((err as Error).message).toMatch(/^InferenceModel\.open: no provider could load model bytes: cpu: session creation failed: .*NoSuchOp/);
  });
});

describe('a backend onnxruntime-node lists but cannot start', () => {
  afterEach(() => {
    vi.doUnmock('onnxruntime-node');
    vi.resetModules();
  });

  it('the session is created on the chosen provider, so its failure falls back to the CPU and is reported', async () => {
    // onnxruntime-node lists coreml here (as a build for another platform would) but has no such
    // backend at run time: creating a session on it fails, as a GPU provider without a device does.
    vi.resetModules();
    vi.doMock('onnxruntime-node', async (importOriginal) => {
      const real = await importOriginal<typeof import('onnxruntime-node')>();
      return { ...real, listSupportedBackends: () => [...real.listSupportedBackends(), { name: 'coreml', bundled: true }] };
    });
    const { InferenceModel: IM } = await import('../src/runtime/inference.js');
    const im = await IM.open(identityBytes(), { providers: ['coreml', 'cpu'] });
    try {
      expect(im.provider).toBe('cpu');
      expect(im.fallbacks).toHaveLength(1);
      expect(im.fallbacks[0].provider).toBe('coreml');
      expect(im.fallbacks[0].reason).toMatch(/^session creation failed: .*coreml/);
      const r = await im.run([[[1, 2], [3, 4]]]);
      expect(Array.from(r.y)).toEqual([1, 2, 3, 4]);
    } finally {
      await im.release();
    }
    const { ProviderUnavailableError: PUE } = await import('../src/runtime/providers.js');
    const err = await IM.open(identityBytes(), { providers: ['coreml'], strict: true }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(PUE);
    expect((err as ProviderUnavailableError).provider).toBe('coreml');
  });
});
