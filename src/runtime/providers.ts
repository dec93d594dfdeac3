// Execution-provider selection: which of the user's preferred providers can run this graph
// correctly, given what the installed onnxruntime-node can load. Pure functions (no ONNX Runtime
// session is created here) so that the routing rules are testable on machines without a GPU.
//
// The rule that matters: the CUDA provider hands LSTM/GRU/RNN weights to cuDNN and reads W, R, B
// only (onnxruntime/core/providers/cuda/rnn/cudnn_rnn_base.h). Peepholes, clip, input_forget,
// non-default activations and GRU linear_before_reset = 0 are not implemented there, and the
// kernel does not refuse them: it runs and returns wrong numbers. Such graphs never go to CUDA.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { int64ToNumber } from '../graph/io.js';
import type { ModelProto } from '../graph/builder.js';

/**
 * ONNX Runtime execution-provider names as onnxruntime-node spells them. Which of them a given
 * install can use is what `ort.listSupportedBackends()` reports (linux-x64: cpu, webgpu, cuda,
 * tensorrt; Windows: dml too; macOS: coreml); every reported one is passed through.
 */
export type ProviderName = 'cpu' | 'cuda' | 'tensorrt' | 'webgpu' | 'dml' | 'coreml' | 'qnn' | 'webnn' | 'xnnpack' | 'rocm' | 'migraphx' | 'openvino';
export const PROVIDER_NAMES: readonly ProviderName[] = ['cpu', 'cuda', 'tensorrt', 'webgpu', 'dml', 'coreml', 'qnn', 'webnn', 'xnnpack', 'rocm', 'migraphx', 'openvino'];
/**
 * Default preference: CUDA when its provider library is installed, else CPU. WebGPU is opt-in
 * because on machines with only a software Vulkan driver it would pick a CPU-emulated adapter.
 */
export const DEFAULT_PROVIDERS: readonly ProviderName[] = ['cuda', 'cpu'];

/**
 * A provider list as typed on a command line ("cuda,cpu"; repeated flags arrive as an array),
 * checked against PROVIDER_NAMES: the one parser of `--providers` for every rnnx command and
 * the stand-alone server (src/serve/main.ts), so all accept the same values with one message.
 */
export function parseProviderList(value: unknown, flag = '--providers'): ProviderName[] {
  const text = Array.isArray(value) ? value.map(String).join(',') : typeof value === 'string' ? value : '';
  const list = text.split(',').map((p) => p.trim()).filter(Boolean);
  const expected = `one or more of ${PROVIDER_NAMES.join(', ')}, separated by commas`;
  if (list.length === 0) throw new Error(`${flag} must be ${expected}, got ${JSON.stringify(value ?? '')}`);
  for (const p of list) if (!PROVIDER_NAMES.includes(p as ProviderName)) throw new Error(`${flag} must be ${expected}, got ${JSON.stringify(p)}`);
  return [...new Set(list)] as ProviderName[];
}

/**
 * Providers whose recurrent kernels read only W, R, B and run peepholes, clip, input_forget,
 * non-default activations and GRU linear_before_reset = 0 silently wrong. CUDA: cuDNN
 * (cudnn_rnn_base.h). TensorRT: its provider library ships with the CUDA one and nodes it does
 * not take fall to CUDA kernels where both are registered; not checked against a GPU here, so the
 * rule is applied rather than trusted away. ROCm / MIGraphX: the CUDA provider's code on MIOpen.
 */
export const ATTRIBUTE_IGNORING_PROVIDERS: readonly ProviderName[] = ['cuda', 'tensorrt', 'rocm', 'migraphx'];

/** A provider that was passed over, and why. */
export interface ProviderFallback {
  provider: ProviderName;
  reason: string;
}

/** What the routing rules need to know about one recurrent node of a graph. */
export interface RecurrentNodeInfo {
  op: 'LSTM' | 'GRU' | 'RNN';
  name: string;
  /** LSTM input P given (non-empty). */
  peepholes: boolean;
  /** The `activations` attribute, null when absent (defaults). */
  activations: string[] | null;
  clip: number | null;
  inputForget: boolean;
  /** GRU only; ONNX default 0. */
  linearBeforeReset: number;
  layout: number;
}

/** What each backend can do, as onnxruntime-node reports it (`ort.listSupportedBackends()`) plus file probes. */
export interface BackendAvailability {
  name: string;
  /** false: the build knows the backend but its provider library is a separate install (CUDA). */
  bundled: boolean;
  /** Set when a cheap probe already knows it cannot load (missing shared library...). */
  unavailableReason?: string;
}

const DEFAULT_ACTIVATIONS: Record<RecurrentNodeInfo['op'], string[]> = {
  LSTM: ['Sigmoid', 'Tanh', 'Tanh'],
  GRU: ['Sigmoid', 'Tanh'],
  RNN: ['Tanh'],
};

/** The recurrent nodes of a graph with the attributes that decide where they may run. @internal */
export function recurrentNodes(proto: ModelProto): RecurrentNodeInfo[] {
  const out: RecurrentNodeInfo[] = [];
  for (const n of proto.graph?.node ?? []) {
    if ((n.domain ?? '') !== '' || !['LSTM', 'GRU', 'RNN'].includes(n.opType ?? '')) continue;
    const attr = new Map((n.attribute ?? []).map((a) => [a.name ?? '', a]));
    const dec = new TextDecoder();
    const acts = attr.get('activations')?.strings;
    out.push({
      op: n.opType as RecurrentNodeInfo['op'],
      name: n.name || n.output?.[0] || n.opType || '?',
      peepholes: n.opType === 'LSTM' && (n.input?.[7] ?? '') !== '',
      activations: acts && acts.length > 0 ? acts.map((s) => dec.decode(s)) : null,
      clip: attr.has('clip') ? attr.get('clip')!.f ?? null : null,
      inputForget: int64ToNumber(attr.get('input_forget')?.i) !== 0,
      linearBeforeReset: int64ToNumber(attr.get('linear_before_reset')?.i),
      layout: int64ToNumber(attr.get('layout')?.i),
    });
  }
  return out;
}

/** Why `provider` would compute `node` wrongly or refuse it; null when it runs it as ONNX specifies. */
export function providerIssue(provider: ProviderName, node: RecurrentNodeInfo): string | null {
  if (!ATTRIBUTE_IGNORING_PROVIDERS.includes(provider)) return null;
  const where = `${node.op} node ${JSON.stringify(node.name)}`;
  const kernel = provider === 'cuda' ? "the CUDA provider's cuDNN kernel" : `the ${provider} provider's kernel (routed like CUDA's cuDNN kernel)`;
  if (node.peepholes) return `${where} has peepholes (input P), which ${kernel} ignores: it would run silently wrong`;
  if (node.clip !== null) return `${where} has clip = ${node.clip}, which ${kernel} ignores`;
  if (node.inputForget) return `${where} has input_forget = 1, which ${kernel} ignores`;
  if (node.op === 'GRU' && node.linearBeforeReset !== 1) {
    return `${where} has linear_before_reset = ${node.linearBeforeReset}; ${kernel} computes only linear_before_reset = 1`;
  }
  if (node.activations) {
    const ok = node.op === 'RNN'
      ? node.activations.every((a) => a === node.activations![0] && (a === 'Tanh' || a === 'Relu'))
      : node.activations.every((a, i) => a === DEFAULT_ACTIVATIONS[node.op][i % DEFAULT_ACTIVATIONS[node.op].length]);
    if (!ok) return `${where} has activations ${JSON.stringify(node.activations)}, which ${kernel} does not implement`;
  }
  if (node.layout !== 0) return `${where} has layout = ${node.layout}; ONNX Runtime accepts only layout 0`;
  return null;
}

/** Thrown by `chooseProvider` / `InferenceModel.open` with `strict` when the required provider cannot run the graph. */
export class ProviderUnavailableError extends Error {
  readonly code = 'RNNX_PROVIDER_UNAVAILABLE';
  constructor(readonly provider: string, readonly reason: string) {
    super(`provider ${JSON.stringify(provider)} is required (strict) but cannot be used: ${reason}`);
    this.name = 'ProviderUnavailableError';
  }
}

/**
 * Orders the providers to try: the preferred ones this onnxruntime-node build has, minus those
 * that would compute one of `nodes` wrongly, each skip with its reason. CPU is always the last
 * candidate, since it implements every recurrent operator option. With `strict` the first
 * preferred provider is the only candidate, and a ProviderUnavailableError says why when it is
 * skipped. Any provider name onnxruntime-node reports is accepted, also ones newer than
 * PROVIDER_NAMES. Pure: no session is created.
 */
export function chooseProvider(
  nodes: readonly RecurrentNodeInfo[],
  available: readonly BackendAvailability[],
  preference: readonly string[] = DEFAULT_PROVIDERS,
  strict = false,
): { candidates: ProviderName[]; skipped: ProviderFallback[] } {
  const known = [...new Set([...PROVIDER_NAMES, ...available.map((b) => b.name)])];
  if (!Array.isArray(preference) || preference.length === 0) {
    throw new Error(`providers must be a non-empty array of ${known.map((p) => JSON.stringify(p)).join(', ')}, got ${JSON.stringify(preference)}`);
  }
  const candidates: ProviderName[] = [];
  const skipped: ProviderFallback[] = [];
  for (const p of strict ? preference.slice(0, 1) : preference) {
    if (typeof p !== 'string' || !known.includes(p)) {
      throw new Error(`providers entries must be one of ${known.map((n) => JSON.stringify(n)).join(', ')}, got ${JSON.stringify(p)}`);
    }
    const provider = p as ProviderName;
    if (candidates.includes(provider)) continue;
    const backend = available.find((b) => b.name === provider);
    const reason = !backend
      ? `this onnxruntime-node build has no ${provider} backend (it lists ${available.map((b) => b.name).join(', ') || 'none'})`
      : backend.unavailableReason ?? nodes.map((n) => providerIssue(provider, n)).find((r) => r !== null) ?? null;
    if (reason !== null) {
      if (strict) throw new ProviderUnavailableError(provider, reason);
      skipped.push({ provider, reason });
      continue;
    }
    candidates.push(provider);
  }
  if (!strict && !candidates.includes('cpu')) candidates.push('cpu');
  return { candidates, skipped };
}

let probed: BackendAvailability[] | null = null;

/** Providers that onnxruntime-node lists but downloads separately (its install script's cuda12 manifest). */
const PROVIDER_LIBRARIES: Record<string, string> = { cuda: 'cuda', tensorrt: 'tensorrt' };

/** How to add the CUDA/TensorRT provider to an existing install (README "GPU users" says more). */
export const GPU_INSTALL_HINT = 'add it with: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node';

/**
 * `ort.listSupportedBackends()` plus cheap file probes, cached per process: the CUDA provider's
 * and TensorRT providers' shared libraries next to the binding (absent unless onnxruntime-node's
 * install script downloaded them),
 * and libvulkan for WebGPU on Linux. Probing first keeps a failed load from printing ONNX Runtime
 * error logs on every open.
 */
export function probeBackends(listSupportedBackends: () => readonly { name: string; bundled: boolean }[]): BackendAvailability[] {
  if (probed) return probed;
  const list = listSupportedBackends().map((b): BackendAvailability => ({ name: b.name, bundled: b.bundled }));
  let binDir: string | null = null;
  try {
    const req = createRequire(import.meta.url);
    const main = req.resolve('onnxruntime-node');
    // dist/index.js → bin/napi-v6/<platform>/<arch>
    binDir = join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    binDir = null;
  }
  for (const b of list) {
    const lib = PROVIDER_LIBRARIES[b.name];
    if (lib && binDir) {
      const file = process.platform === 'win32' ? `onnxruntime_providers_${lib}.dll` : `libonnxruntime_providers_${lib}.so`;
      if (!existsSync(join(binDir, file))) {
        b.unavailableReason = `the ${b.name} provider library ${file} is not installed next to onnxruntime-node's binding (${GPU_INSTALL_HINT})`;
      }
    }
    if (b.name === 'webgpu' && process.platform === 'linux' && !vulkanPresent()) {
      b.unavailableReason = 'WebGPU needs a Vulkan driver and libvulkan.so.1 was not found';
    }
  }
  probed = list;
  return list;
}

function vulkanPresent(): boolean {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64', '/usr/local/lib',
  ];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}
