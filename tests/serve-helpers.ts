// Shared fixtures of the serve tests: small seeded models written to a temp directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../src/graph/io.js';
import type { ExportOptions } from '../src/graph/export.js';
import type { LayerSpec } from '../src/layers/spec.js';
import { Rng } from '../src/layers/random.js';
import { Model } from '../src/model/model.js';
import { randomArray, randomizeParams } from './reference/util.js';

export function tempDir(prefix = 'rnnx-serve-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A model with seeded non-trivial weights (random biases too), saved with `exportOptions`. */
export function makeModel(dir: string, name: string, inputSize: number, layers: LayerSpec[], seed: number, exportOptions: ExportOptions = {}): { model: Model; path: string } {
  const model = Model.create({ inputSize, layers }, { seed });
  randomizeParams(model, seed + 100);
  const path = join(dir, `${name}.onnx`);
  saveModel(model, path, exportOptions);
  return { model, path };
}

/** `count` random sequences with lengths drawn from [minT, maxT], each [t, inputSize]. */
export function randomSequences(seed: number, count: number, inputSize: number, minT: number, maxT: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const t = minT + Math.floor(rng.uniform() * (maxT - minT + 1));
    return randomArray(rng, t * inputSize);
  });
}

/** Float32Array [t, I] → nested rows for JSON bodies. */
export function rows(x: Float32Array, inputSize: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < x.length; i += inputSize) out.push(Array.from(x.subarray(i, i + inputSize)));
  return out;
}

/**
 * Starts a server as a child process (`node --import tsx <entry> ...args`, entry e.g.
 * 'src/serve/main.ts' or 'src/cli/main.ts' with 'serve' first in args); `url` resolves once it
 * prints {"listening": url}, and rejects if it exits first.
 */
export function startServerChild(args: string[], options: { entry?: string; env?: NodeJS.ProcessEnv } = {}): { child: ChildProcess; url: Promise<string>; stderr(): string } {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', options.entry ?? 'src/serve/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as { listening?: string };
      if (m.listening) resolve(m.listening);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr };
}

/** Runs the CLI in process with stderr captured: its exit code and what it wrote there. */
export async function runCliCaptured(args: string[]): Promise<{ code: number; stderr: string }> {
  const { runCli } = await import('../src/cli/app.js');
  const err: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    err.push(String(c));
    return true;
  });
  try {
    return { code: await runCli(args), stderr: err.join('') };
  } finally {
    spy.mockRestore();
  }
}
