#!/usr/bin/env bash
# Prepares .device-pack/ (git-ignored) HERE for scripts/device-check.sh on a GPU machine that
# has no Node.js and no internet. Name it in the device run's `carry`.
#   node.xz         this machine's Node binary, xz-compressed (the device has none)
#   rnnx_native.node the addon built with CUDA (scripts/device-build.sh: static cudart, sm_80/90)
#   check.mjs       scripts/device-check.ts bundled with its imports from src/ (esbuild)
#   ort.tar.xz      onnxruntime-node's JS and its linux-x64 binaries only, for the WebGPU check
#   gl/*.deb        Vulkan/EGL loaders for that check (apt-get download), when apt can fetch them
# Fails if the pack exceeds 56 MiB (the device's working-tree limit is 64 MiB in all).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
pack="$repo/.device-pack"
tmp="$pack.tmp"
rm -rf "$tmp"
mkdir -p "$tmp" "$pack"
cd "$repo"

scripts/device-build.sh "$tmp/rnnx_native.node" cuda

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

ort=node_modules/onnxruntime-node
if [ -f "$pack/ort.tar.xz" ] && [ "$(cat "$pack/ort.id" 2>/dev/null)" = "$(stat -c %Y $ort/package.json)" ]; then
  cp "$pack/ort.tar.xz" "$pack/ort.id" "$tmp/"
else
  echo "device-pack: packing onnxruntime-node (linux-x64 only)"
  tar -C node_modules -cf - onnxruntime-node/package.json onnxruntime-node/dist onnxruntime-node/bin/napi-v6/linux/x64 \
    onnxruntime-common | xz -T2 -6 >"$tmp/ort.tar.xz"
  stat -c %Y $ort/package.json >"$tmp/ort.id"
fi

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
