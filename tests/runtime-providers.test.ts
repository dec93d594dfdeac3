// Execution-provider routing (src/runtime/providers.ts) in detail: what is read from each node,
// the exact reason a node cannot go to a cuDNN-backed provider, the order of candidates, and the
// cheap file probes. Graphs are written here as plain protobuf objects so that every attribute
// can be set or left out on purpose.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ModelProto } from '../src/graph/builder.js';
import {
  ATTRIBUTE_IGNORING_PROVIDERS, chooseProvider, DEFAULT_PROVIDERS, GPU_INSTALL_HINT, providerIssue, PROVIDER_NAMES,
  ProviderUnavailableError, recurrentNodes, type BackendAvailability, type RecurrentNodeInfo,
} from '../src/runtime/providers.js';
import { thrownMessage } from './thrown-message.js';

const text = (s: string) => new TextEncoder().encode(s);
const graph = (node: object[]) => ({ graph: { node } }) as unknown as ModelProto;
const node = (o: Partial<RecurrentNodeInfo>): RecurrentNodeInfo => ({
  op: 'LSTM', name: 'n', peepholes: false, activations: null, clip: null, inputForget: false, linearBeforeReset: 0, layout: 0, ...o,
});

const message = thrownMessage;

describe('recurrentNodes', () => {
  it('reads each recurrent node of the default domain, with ONNX defaults for absent attributes', () => {
    const nodes = recurrentNodes(graph([
      { opType: 'LSTM', name: 'lstm0', input: ['x', 'W', 'R', 'B', '', '', '', 'P'], attribute: [
        { name: 'clip', f: 2.5 }, { name: 'input_forget', i: 1 }, { name: 'activations', strings: [text('Sigmoid'), text('Tanh'), text('Relu')] },
      ] },
      { opType: 'LSTM', output: ['y1'], input: ['x', 'W', 'R', 'B', '', '', '', ''] },
      { opType: 'GRU', attribute: [{ name: 'linear_before_reset', i: 1 }, { name: 'layout', i: 1 }, { name: 'activations', strings: [] }] },
      { opType: 'RNN', name: '', output: [] },
      { opType: 'MatMul', name: 'mm' },
      { opType: 'LSTM', domain: 'com.example', name: 'custom' },
      { opType: 'GRU', domain: '', name: 'g2', attribute: [{ name: 'clip' }] },
    ]));
    expect(nodes).toStrictEqual([
      { op: 'LSTM', name: 'lstm0', peepholes: true, activations: ['Sigmoid', 'Tanh', 'Relu'], clip: 2.5, inputForget: true, linearBeforeReset: 0, layout: 0 },
      { op: 'LSTM', name: 'y1', peepholes: false, activations: null, clip: null, inputForget: false, linearBeforeReset: 0, layout: 0 },
      { op: 'GRU', name: 'GRU', peepholes: false, activations: null, clip: null, inputForget: false, linearBeforeReset: 1, layout: 1 },
      { op: 'RNN', name: 'RNN', peepholes: false, activations: null, clip: null, inputForget: false, linearBeforeReset: 0, layout: 0 },
      { op: 'GRU', name: 'g2', peepholes: false, activations: null, clip: null, inputForget: false, linearBeforeReset: 0, layout: 0 },
    ]);
    // A GRU's 8th input is not a peephole; a graph without nodes has none.
    expect(recurrentNodes(graph([{ opType: 'GRU', input: ['x', 'W', 'R', 'B', '', '', '', 'P'] }]))[0].peepholes).toBe(false);
    expect(recurrentNodes({} as ModelProto)).toEqual([]);
  });
});

describe('providerIssue', () => {
  const cuda = "the CUDA provider's cuDNN kernel";
  const trt = "the tensorrt provider's kernel (routed like CUDA's cuDNN kernel)";

  it('names the node, the attribute and the kernel that ignores it, first problem first', () => {
    expect(providerIssue('cuda', node({ peepholes: true, clip: 1 }))).toBe(`LSTM node "n" has peepholes (input P), which ${cuda} ignores: it would run silently wrong`);
    expect(providerIssue('cuda', node({ clip: 0.5, inputForget: true }))).toBe(`LSTM node "n" has clip = 0.5, which ${cuda} ignores`);
    expect(providerIssue('cuda', node({ clip: 0 }))).toBe(`LSTM node "n" has clip = 0, which ${cuda} ignores`);
    expect(providerIssue('tensorrt', node({ inputForget: true }))).toBe(`LSTM node "n" has input_forget = 1, which ${trt} ignores`);
    expect(providerIssue('cuda', node({ op: 'GRU', name: 'g', linearBeforeReset: 0 }))).toBe(`GRU node "g" has linear_before_reset = 0; ${cuda} computes only linear_before_reset = 1`);
    expect(providerIssue('cuda', node({ layout: 1 }))).toBe(`LSTM node "n" has layout = 1; ONNX Runtime accepts only layout 0`);
    expect(providerIssue('rocm', node({ op: 'GRU', linearBeforeReset: 1, activations: ['Sigmoid', 'Relu'] })))
      .toBe(`GRU node "n" has activations ["Sigmoid","Relu"], which the rocm provider's kernel (routed like CUDA's cuDNN kernel) does not implement`);
  });

  it('default activations (per direction) and uniform Tanh/Relu RNNs are what cuDNN runs', async () => {
    // The ONNX defaults are a table built when the module loads: a fresh module, so that the table
    // this test checks is the one loaded for it.
    vi.resetModules();
    const { providerIssue } = await import('../src/runtime/providers.js');
    // Exporters such as tf2onnx spell the defaults out: written or left out, the same node.
    expect(providerIssue('cuda', node({ activations: ['Sigmoid', 'Tanh', 'Tanh'] }))).toBeNull();
    expect(providerIssue('cuda', node({ activations: ['Sigmoid', 'Tanh', 'Tanh', 'Sigmoid', 'Tanh', 'Tanh'] }))).toBeNull();
    expect(providerIssue('cuda', node({ activations: ['Sigmoid', 'Tanh', 'Tanh', 'Sigmoid', 'Tanh', 'Relu'] }))).toMatch(/does not implement$/);
    expect(providerIssue('cuda', node({ activations: ['HardSigmoid', 'Tanh', 'Tanh'] }))).toMatch(/has activations \["HardSigmoid","Tanh","Tanh"\]/);
    expect(providerIssue('cuda', node({ op: 'GRU', linearBeforeReset: 1, activations: ['Sigmoid', 'Tanh'] }))).toBeNull();
    expect(providerIssue('cuda', node({ op: 'GRU', linearBeforeReset: 1, activations: ['Sigmoid', 'Tanh', 'Sigmoid', 'Tanh'] }))).toBeNull();
    expect(providerIssue('cuda', node({ op: 'GRU', linearBeforeReset: 1, activations: ['Tanh', 'Sigmoid'] }))).toMatch(/has activations \["Tanh","Sigmoid"\]/);
    expect(providerIssue('cuda', node({ op: 'RNN', activations: ['Relu', 'Relu'] }))).toBeNull();
    expect(providerIssue('cuda', node({ op: 'RNN', activations: ['Tanh'] }))).toBeNull();
    expect(providerIssue('cuda', node({ op: 'RNN', activations: ['Tanh', 'Relu'] }))).toMatch(/has activations \["Tanh","Relu"\]/);
    expect(providerIssue('cuda', node({ op: 'RNN', activations: ['Sigmoid'] }))).toMatch(/has activations \["Sigmoid"\]/);
    // Only the cuDNN-backed providers have these gaps.
    expect(ATTRIBUTE_IGNORING_PROVIDERS).toEqual(['cuda', 'tensorrt', 'rocm', 'migraphx']);
    for (const p of ['migraphx', 'rocm', 'tensorrt'] as const) expect(providerIssue(p, node({ clip: 1 }))).toMatch(/has clip = 1/);
    for (const p of ['cpu', 'webgpu', 'dml', 'coreml', 'openvino'] as const) expect(providerIssue(p, node({ peepholes: true, layout: 1 }))).toBeNull();
  });
});

describe('chooseProvider', () => {
  const cpuOnly: BackendAvailability[] = [{ name: 'cpu', bundled: true }];
  const gpu: BackendAvailability[] = [{ name: 'cpu', bundled: true }, { name: 'cuda', bundled: false }];

  it('defaults to CUDA then CPU, tries each provider once, and appends CPU last', () => {
    expect(DEFAULT_PROVIDERS).toEqual(['cuda', 'cpu']);
    expect(chooseProvider([], gpu)).toEqual({ candidates: ['cuda', 'cpu'], skipped: [] });
    expect(chooseProvider([], gpu, ['cpu', 'cuda', 'cpu', 'cuda'])).toEqual({ candidates: ['cpu', 'cuda'], skipped: [] });
    expect(chooseProvider([], gpu, ['cuda', 'cuda'])).toEqual({ candidates: ['cuda', 'cpu'], skipped: [] });
    expect(chooseProvider([], cpuOnly)).toEqual({ candidates: ['cpu'], skipped: [{ provider: 'cuda', reason: 'this onnxruntime-node build has no cuda backend (it lists cpu)' }] });
    expect(chooseProvider([], [], ['webgpu']).skipped).toEqual([{ provider: 'webgpu', reason: 'this onnxruntime-node build has no webgpu backend (it lists none)' }]);
    expect(chooseProvider([], [{ name: 'cpu', bundled: true }, { name: 'dml', bundled: true }], ['coreml']).skipped[0].reason).toBe('this onnxruntime-node build has no coreml backend (it lists cpu, dml)');
  });

  it('the first node that a provider would get wrong gives the reason', () => {
    const r = chooseProvider([node({ name: 'ok' }), node({ name: 'a', clip: 1 }), node({ name: 'b', peepholes: true })], gpu);
    expect(r).toEqual({ candidates: ['cpu'], skipped: [{ provider: 'cuda', reason: `LSTM node "a" has clip = 1, which the CUDA provider's cuDNN kernel ignores` }] });
  });

  it('strict: only the first preference, and its reason as a ProviderUnavailableError', () => {
    expect(chooseProvider([], gpu, ['cuda', 'cpu'], true)).toEqual({ candidates: ['cuda'], skipped: [] });
    let e: unknown;
    try {
      chooseProvider([node({ peepholes: true })], gpu, ['cuda', 'cpu'], true);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ProviderUnavailableError);
    const err = e as ProviderUnavailableError;
    expect([err.name, err.code, err.provider]).toEqual(['ProviderUnavailableError', 'RNNX_PROVIDER_UNAVAILABLE', 'cuda']);
    expect(err.reason).toMatch(/^LSTM node "n" has peepholes/);
    expect(err.message).toBe(`provider "cuda" is required (strict) but cannot be used: ${err.reason}`);
  });

  it('names the providers it knows when given a bad list', () => {
    const known = PROVIDER_NAMES.map((p) => JSON.stringify(p)).join(', ');
    expect(PROVIDER_NAMES).toEqual(['cpu', 'cuda', 'tensorrt', 'webgpu', 'dml', 'coreml', 'qnn', 'webnn', 'xnnpack', 'rocm', 'migraphx', 'openvino']);
    expect(message(() => chooseProvider([], cpuOnly, []))).toBe(`providers must be a non-empty array of ${known}, got []`);
    expect(message(() => chooseProvider([], cpuOnly, 'cpu' as never))).toBe(`providers must be a non-empty array of ${known}, got "cpu"`);
    expect(message(() => chooseProvider([], cpuOnly, ['gpu']))).toBe(`providers entries must be one of ${known}, got "gpu"`);
    expect(message(() => chooseProvider([], cpuOnly, [3 as never]))).toBe(`providers entries must be one of ${known}, got 3`);
    // A backend newer than PROVIDER_NAMES, reported by onnxruntime-node, is known too.
    expect(message(() => chooseProvider([], [...cpuOnly, { name: 'npu', bundled: true }], ['x']))).toBe(`providers entries must be one of ${known}, "npu", got "x"`);
    expect(chooseProvider([], [...cpuOnly, { name: 'npu', bundled: true }], ['npu'])).toEqual({ candidates: ['npu', 'cpu'], skipped: [] });
  });
});

describe('probeBackends', () => {
  it('marks provider libraries that are not installed and WebGPU without Vulkan, and caches the answer', async () => {
    // A fresh module: the answer is cached per process, and another test may have probed already.
    vi.resetModules();
    const { probeBackends } = await import('../src/runtime/providers.js');
    const list = [{ name: 'cpu', bundled: true }, { name: 'cuda', bundled: false }, { name: 'tensorrt', bundled: false }, { name: 'webgpu', bundled: true }, { name: 'dml', bundled: true }];
    let calls = 0;
    const got = probeBackends(() => { calls++; return list; });
    // What the probe should find, looked up here independently.
    const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    const libReason = (name: string, lib: string) => {
      const file = process.platform === 'win32' ? `onnxruntime_providers_${lib}.dll` : `libonnxruntime_providers_${lib}.so`;
      return existsSync(join(bin, file)) ? undefined : `the ${name} provider library ${file} is not installed next to onnxruntime-node's binding (${GPU_INSTALL_HINT})`;
    };
    const vulkanDirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64', '/usr/local/lib'];
    const noVulkan = process.platform === 'linux' && !vulkanDirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
    const want: BackendAvailability[] = [
      { name: 'cpu', bundled: true },
      { name: 'cuda', bundled: false, unavailableReason: libReason('cuda', 'cuda') },
      { name: 'tensorrt', bundled: false, unavailableReason: libReason('tensorrt', 'tensorrt') },
      { name: 'webgpu', bundled: true, unavailableReason: noVulkan ? 'WebGPU needs a Vulkan driver and libvulkan.so.1 was not found' : undefined },
      { name: 'dml', bundled: true },
    ];
    expect(got).toEqual(want);
    expect(GPU_INSTALL_HINT).toBe('add it with: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node');
    // The caller's list is not modified, and a second call does not probe again.
    expect(list[1]).toEqual({ name: 'cuda', bundled: false });
    expect(probeBackends(() => { calls++; return []; })).toBe(got);
    expect(calls).toBe(1);
  });
});

describe('probeBackends on a machine with the files installed', () => {
  const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  const savedPath = process.env.LD_LIBRARY_PATH;
  afterEach(() => {
    vi.doUnmock('node:fs');
    vi.resetModules();
    if (savedPath === undefined) delete process.env.LD_LIBRARY_PATH;
    else process.env.LD_LIBRARY_PATH = savedPath;
  });

  /** A fresh providers module that sees only `files` (absolute after resolving against the working directory). */
  async function probeWith(files: string[], list: { name: string; bundled: boolean }[]): Promise<BackendAvailability[]> {
    vi.resetModules();
    const present = new Set(files.map((f) => resolve(f)));
    vi.doMock('node:fs', async (importOriginal) => ({ ...await importOriginal<typeof import('node:fs')>(), existsSync: (p: string) => present.has(resolve(p)) }));
    const { probeBackends } = await import('../src/runtime/providers.js');
    return probeBackends(() => list);
  }

  it.skipIf(process.platform !== 'linux')('an installed CUDA provider library counts as available; a missing TensorRT one does not', async () => {
    delete process.env.LD_LIBRARY_PATH;
    const got = await probeWith([join(bin, 'libonnxruntime_providers_cuda.so')], [{ name: 'cpu', bundled: true }, { name: 'cuda', bundled: false }, { name: 'tensorrt', bundled: false }]);
    expect(got.map((b) => [b.name, b.unavailableReason])).toEqual([
      ['cpu', undefined],
      ['cuda', undefined],
      ['tensorrt', `the tensorrt provider library libonnxruntime_providers_tensorrt.so is not installed next to onnxruntime-node's binding (${GPU_INSTALL_HINT})`],
    ]);
  });

  it.skipIf(process.platform !== 'linux')('Vulkan is looked for in each LD_LIBRARY_PATH folder, and not in the working directory', async () => {
    const webgpu = [{ name: 'webgpu', bundled: true }];
    const noVulkan = 'WebGPU needs a Vulkan driver and libvulkan.so.1 was not found';
    // Found in the second of two LD_LIBRARY_PATH folders.
    process.env.LD_LIBRARY_PATH = '/opt/none:/opt/vulkan-sdk/lib';
    expect((await probeWith(['/opt/vulkan-sdk/lib/libvulkan.so.1'], webgpu))[0].unavailableReason).toBeUndefined();
    // Without LD_LIBRARY_PATH the loader does not search the working directory, and neither does the probe.
    delete process.env.LD_LIBRARY_PATH;
    expect((await probeWith(['libvulkan.so.1'], webgpu))[0].unavailableReason).toBe(noVulkan);
    // A system folder.
    expect((await probeWith(['/usr/lib64/libvulkan.so.1'], webgpu))[0].unavailableReason).toBeUndefined();
  });
});
