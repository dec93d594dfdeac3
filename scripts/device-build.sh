#!/usr/bin/env bash
# Builds the addon in a scratch copy of the repository (never touching the shared build/), with
# the CUDA backend compiled in (cuda) or left out (cpu), and copies the result out.
#   scripts/device-build.sh OUT.node [cuda|cpu]
# cuda (default): RNNX_CUDA=1, nvcc required. cpu: RNNX_CUDA=0 (checks the CPU-only build).
# binding.gyp hooks native/cuda/cuda.gyp in; RNNX_CUDA decides whether it compiles anything.
set -euo pipefail
out=${1:?usage: device-build.sh OUT.node [cuda|cpu]}
mode=${2:-cuda}
repo=$(cd "$(dirname "$0")/.." && pwd)
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
work=$(mktemp -d /tmp/rnnx-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Sources only: node_modules is linked, build outputs and packs are left behind.
tar -C "$repo" --exclude=./node_modules --exclude=./build --exclude=./.device-pack --exclude=./.device-pack.tmp --exclude=./dist \
  --exclude=./bench-results --exclude=./build-sanitize --exclude=./reports --exclude=./.stryker-tmp --exclude=./.git -cf - . | tar -C "$work" -xf -
ln -s "$repo/node_modules" "$work/node_modules"

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
