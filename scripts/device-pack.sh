#!/usr/bin/env bash
# Prepares .device-pack/ (git-ignored) HERE for scripts/device-check.sh on a GPU machine that
# has no Node.js and no internet. Name it in the device run's `carry`.
#   node.xz         this machine's Node binary, xz-compressed (the device has none)
#   rnnx_native.node the addon built with CUDA (scripts/device-build.sh: static cudart, sm_80/90)
#   check.mjs       scripts/device-check.ts bundled with its imports from src/ (esbuild)
#   ort.tar.xz      node_modules/onnxruntime-node (its JS and linux-x64 binaries only) and
#                   node_modules/onnxruntime-common beside it, where require() finds it, for the
#                   ONNX Runtime rows (CPU and WebGPU providers); checked here after packing
#   gl/*.deb        Vulkan/EGL loaders for that check (apt-get download), when apt can fetch them
# Fails if the pack exceeds 56 MiB (the device's working-tree limit is 64 MiB in all).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
pack="$repo/.device-pack"
tmp="$pack.tmp"
rm -rf "$tmp"
mkdir -p "$tmp" "$pack"
cd "$repo"

# The CUDA build takes minutes; reuse the last one while its inputs are unchanged.
addon_id=$( (nvcc --version 2>/dev/null; node --version; find native binding.gyp scripts/device-build.sh scripts/detect-nvcc.mjs -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
if [ -f "$pack/rnnx_native.node" ] && [ "$(cat "$pack/addon.id" 2>/dev/null)" = "$addon_id" ]; then
  echo "device-pack: native sources unchanged, reusing the CUDA addon"
  cp "$pack/rnnx_native.node" "$pack/addon.id" "$tmp/"
else
  scripts/device-build.sh "$tmp/rnnx_native.node" cuda
  echo "$addon_id" >"$tmp/addon.id"
fi

# The Node binary compresses from ~95 MB to ~24 MB; reuse the last one if node is unchanged.
node_bin=$(command -v node)
node_id="$(node --version) $(stat -c '%s %Y' "$node_bin")"
if [ -f "$pack/node.xz" ] && [ "$(cat "$pack/node.id" 2>/dev/null)" = "$node_id" ]; then
  cp "$pack/node.xz" "$pack/node.id" "$tmp/"
else
  echo "device-pack: compressing $node_bin ($(du -h "$node_bin" | cut -f1))"
  xz -T2 -6 -c "$node_bin" >"$tmp/node.xz"
  echo "$node_id" >"$tmp/node.id"
fi

# One self-contained ES module; `require` is provided for the CommonJS packages it bundles.
npx --no-install esbuild scripts/device-check.ts --bundle --platform=node --format=esm --target=node20 \
  --log-level=warning --outfile="$tmp/check.mjs" \
  --banner:js="import { createRequire as __rnnxCreateRequire } from 'node:module'; const require = __rnnxCreateRequire(import.meta.url);"

# Packed as an install lays it out (node_modules/<name>), so that onnxruntime-node's
# require('onnxruntime-common') finds its dependency beside it; the id names the layout too.
ort=node_modules/onnxruntime-node
ort_id="node_modules $(stat -c %Y $ort/package.json node_modules/onnxruntime-common/package.json | tr '\n' ' ')"
if [ -f "$pack/ort.tar.xz" ] && [ "$(cat "$pack/ort.id" 2>/dev/null)" = "$ort_id" ]; then
  cp "$pack/ort.tar.xz" "$pack/ort.id" "$tmp/"
else
  echo "device-pack: packing onnxruntime-node (linux-x64 only) and onnxruntime-common"
  tar -cf - $ort/package.json $ort/dist $ort/bin/napi-v6/linux/x64 node_modules/onnxruntime-common | xz -T2 -6 >"$tmp/ort.tar.xz"
  echo "$ort_id" >"$tmp/ort.id"
fi
# Unpack it as the device will and load it from outside this repository (no node_modules above).
ort_try=$(mktemp -d /tmp/rnnx-ort-check.XXXXXX)
tar -C "$ort_try" -xJf "$tmp/ort.tar.xz"
if ! (cd / && env -u NODE_PATH node -e 'require(process.argv[1]).listSupportedBackends()' "$ort_try/node_modules/onnxruntime-node") >/dev/null 2>"$ort_try.log"; then
  echo "device-pack: the packed onnxruntime-node does not load: $(grep -m1 -i error "$ort_try.log")" >&2
  rm -rf "$ort_try" "$ort_try.log"
  exit 1
fi
rm -rf "$ort_try" "$ort_try.log"

if [ -d "$pack/gl" ] && ls "$pack/gl"/*.deb >/dev/null 2>&1; then
  cp -r "$pack/gl" "$tmp/gl"
else
  mkdir -p "$tmp/gl" /tmp/rnnx-apt-amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/rnnx-apt-amd64'
  # shellcheck disable=SC2086
  if (apt-get $o update >/dev/null 2>&1 && cd "$tmp/gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1); then
    echo "device-pack: Vulkan/EGL loaders: $(ls "$tmp/gl" | tr '\n' ' ')"
  else
    echo "device-pack: could not download the Vulkan loaders; the WebGPU check will report their absence"
  fi
fi

bytes=$(du -sb "$tmp" | cut -f1)
echo "device-pack: $(du -sh "$tmp" | cut -f1) in .device-pack:"
(cd "$tmp" && du -h -- * | sed 's/^/  /')
if [ "$bytes" -gt $((56 * 1024 * 1024)) ]; then
  echo "device-pack: the pack is $bytes bytes, over the 56 MiB budget" >&2
  exit 1
fi
rm -rf "$pack"
mv "$tmp" "$pack"
echo "device-pack: ready; run on the device: scripts/device-check.sh   (carry: [\".device-pack\"])"
