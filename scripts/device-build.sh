#!/usr/bin/env bash
# Builds the addon in a scratch copy of the repository (never touching the shared build/), with
# the CUDA backend hooked in, and copies the result out.
#   scripts/device-build.sh OUT.node [cuda|cpu]
# cuda (default): RNNX_CUDA=1, nvcc required. cpu: RNNX_CUDA=0 (checks the CPU-only build).
# If binding.gyp does not carry the CUDA dependency, the COPY gets it (one line: see
# native/cuda/cuda.gyp); the working tree is not edited. The binding reaches the backend through
# native/cuda/cuda_backend.h (device 'cuda' of the one Trainer).
set -euo pipefail
out=${1:?usage: device-build.sh OUT.node [cuda|cpu]}
mode=${2:-cuda}
repo=$(cd "$(dirname "$0")/.." && pwd)
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
work=$(mktemp -d /tmp/rnnx-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Sources only: node_modules is linked, build outputs and packs are left behind.
tar -C "$repo" --exclude=./node_modules --exclude=./build --exclude=./.device-pack --exclude=./dist \
  --exclude=./bench-results --exclude=./.git -cf - . | tar -C "$work" -xf -
ln -s "$repo/node_modules" "$work/node_modules"

node - "$work" <<'EOF'
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
const gypPath = path.join(dir, 'binding.gyp');
const gyp = JSON.parse(fs.readFileSync(gypPath, 'utf8'));
const t = gyp.targets.find((x) => x.target_name === 'rnnx_native');
if (!t) throw new Error('binding.gyp has no rnnx_native target');
const dep = 'native/cuda/cuda.gyp:rnnx_cuda';
if (!(t.dependencies || []).includes(dep)) {
  t.dependencies = [...(t.dependencies || []), dep];
  fs.writeFileSync(gypPath, JSON.stringify(gyp, null, 2));
  console.log('device-build: added the rnnx_cuda dependency to the copy of binding.gyp');
}
EOF

cd "$work"
if [ "$mode" = cuda ]; then export RNNX_CUDA=1; else export RNNX_CUDA=0; fi
echo "device-build: $(node scripts/detect-nvcc.mjs --why)"
start=$(date +%s)
npx --no-install node-gyp rebuild -j 2 >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
echo "device-build: built in $(( $(date +%s) - start )) s"
mkdir -p "$(dirname "$out")"
cp build/Release/rnnx_native.node "$out.tmp"
mv "$out.tmp" "$out"
echo "device-build: wrote $out ($(du -h "$out" | cut -f1))"
