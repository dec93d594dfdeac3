#!/usr/bin/env node
// Finds the CUDA compiler for the optional CUDA backend (native/cuda/cuda.gyp runs this while
// gyp configures). Prints one line or nothing:
//   detect-nvcc.mjs          the nvcc path, or nothing when CUDA is off or absent
//   detect-nvcc.mjs --root   the CUDA root (holds include/cuda_runtime.h and libcudart_static.a)
//   detect-nvcc.mjs --lib    the folder holding libcudart_static.a
//   detect-nvcc.mjs --why    one line saying what was decided and why (for logs and tests)
// RNNX_CUDA=0 forces CUDA off; RNNX_CUDA=1 forces it on and exits 1 with a message on stderr when
// no usable toolkit is found (so a CI job that asked for CUDA fails loudly instead of silently
// building the CPU-only addon). Unset: use CUDA when a complete toolkit is found. The CPU build
// never needs any of this: an empty answer makes cuda.gyp compile a stub instead.
import { statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

const mode = process.argv[2] ?? '--nvcc';
const forced = process.env.RNNX_CUDA;

function isFile(p) {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function nvccCandidates() {
  const out = [];
  if (process.env.RNNX_NVCC) out.push(process.env.RNNX_NVCC);
  for (const v of ['CUDA_HOME', 'CUDA_PATH', 'CUDA_ROOT']) {
    if (process.env[v]) out.push(join(process.env[v], 'bin', 'nvcc'));
  }
  for (const d of (process.env.PATH ?? '').split(delimiter)) if (d) out.push(join(d, 'nvcc'));
  out.push('/usr/local/cuda/bin/nvcc', '/opt/cuda/bin/nvcc');
  return out;
}

// The library folder of a CUDA root: lib64 on most installs, targets/<arch>/lib on others.
function libDir(root) {
  for (const d of ['lib64', 'lib', 'targets/x86_64-linux/lib', 'targets/sbsa-linux/lib']) {
    if (isFile(join(root, d, 'libcudart_static.a'))) return join(root, d);
  }
  return null;
}

function isRoot(root) {
  return isFile(join(root, 'include', 'cuda_runtime.h')) && libDir(root) !== null;
}

// nvcc may be a wrapper script outside the toolkit (/usr/local/bin/nvcc here), so the root is
// looked for beside it first and in the usual places after.
function findRoot(nvcc) {
  const roots = [];
  for (const v of ['CUDA_HOME', 'CUDA_PATH', 'CUDA_ROOT']) if (process.env[v]) roots.push(process.env[v]);
  roots.push(resolve(dirname(nvcc), '..'), '/usr/local/cuda', '/opt/cuda');
  return roots.find(isRoot) ?? null;
}

function detect() {
  if (forced === '0') return { why: 'CUDA disabled by RNNX_CUDA=0' };
  const nvcc = nvccCandidates().find(isFile);
  if (!nvcc) return { why: 'nvcc not found (set CUDA_HOME or RNNX_NVCC, or put nvcc on PATH)' };
  const root = findRoot(nvcc);
  if (!root) return { why: `nvcc found at ${nvcc} but no CUDA root with include/cuda_runtime.h and libcudart_static.a (set CUDA_HOME)` };
  return { nvcc, root, lib: libDir(root), why: `CUDA backend enabled: nvcc ${nvcc}, CUDA root ${root}` };
}

const found = detect();
if (forced === '1' && !found.nvcc) {
  process.stderr.write(`detect-nvcc: RNNX_CUDA=1 but ${found.why}\n`);
  process.exit(1);
}
if (forced !== undefined && forced !== '0' && forced !== '1') {
  process.stderr.write(`detect-nvcc: RNNX_CUDA must be 0 or 1, got ${JSON.stringify(forced)}\n`);
  process.exit(1);
}
if (mode === '--why') process.stdout.write(found.why + '\n');
else if (found.nvcc) {
  const value = { '--nvcc': found.nvcc, '--root': found.root, '--lib': found.lib }[mode];
  if (value === undefined) {
    process.stderr.write(`detect-nvcc: unknown option ${mode}; expected --nvcc, --root, --lib or --why\n`);
    process.exit(1);
  }
  process.stdout.write(value + '\n');
}
