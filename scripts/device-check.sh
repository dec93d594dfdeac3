#!/usr/bin/env bash
# GPU device check for the CUDA training step, sized for ONE device call of at most 8 minutes.
#   On the GPU machine (repo root, .device-pack carried):  scripts/device-check.sh
#   Here, without a GPU:                                   scripts/device-check.sh --dry-run
# --dry-run (npm run device:dry-run) builds and packs first (scripts/device-pack.sh), then runs
# every device step that needs no GPU with the packed Node: unpack Node and onnxruntime-node into
# a temp folder, start the check program, which must exit 0 with the "no CUDA device" line, the
# ONNX Runtime CPU row passed and the WebGPU row tried. Minutes: the CUDA build dominates (it is
# reused while native/ is unchanged), so it is not part of npm test.
# On the device: PyTorch's cuDNN timing (scripts/device-bench-torch.py), then the Node check
# (scripts/device-check.ts): CUDA step vs its float64 emulation for every layer kind, timings
# beside PyTorch, ONNX Runtime's WebGPU provider. One table at the end; JSON under $OUT.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dry=0
[ "${1:-}" = "--dry-run" ] && dry=1
start=$(date +%s)
say() { echo "device-check [$(( $(date +%s) - start ))s]: $*"; }

if [ $dry = 1 ]; then
  scripts/device-pack.sh || { say "pack failed"; exit 1; }
fi
pack=.device-pack
for f in node.xz rnnx_native.node check.mjs ort.tar.xz; do
  [ -f "$pack/$f" ] || { say "missing $pack/$f: run scripts/device-pack.sh here and carry .device-pack"; exit 1; }
done

work=$(mktemp -d /tmp/rnnx-device.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=${OUT:-$work}
xz -dc "$pack/node.xz" >"$work/node" && chmod +x "$work/node"
tar -C "$work" -xJf "$pack/ort.tar.xz"   # $work/node_modules/onnxruntime-{node,common}
say "unpacked Node $("$work/node" --version) and onnxruntime-node into $work"

# Vulkan/EGL loaders for ONNX Runtime's WebGPU provider (device README: unpack into /, ldconfig).
if [ $dry = 0 ] && ls "$pack"/gl/*.deb >/dev/null 2>&1 && ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in "$pack"/gl/*.deb; do dpkg -x "$f" / 2>/dev/null; done
  ldconfig
  say "unpacked the Vulkan/EGL loaders"
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi

# cuBLAS from the Python packages (nvidia-cublas / nvidia-cublas-cu12), unless already set.
if [ -z "${RNNX_CUBLAS_PATH:-}" ] && command -v python3 >/dev/null; then
  RNNX_CUBLAS_PATH=$(python3 - 2>/dev/null <<'EOF'
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
for r in roots:
    hits = sorted(glob.glob(os.path.join(r, "**", "libcublas.so.*"), recursive=True))
    if hits:
        print(os.path.dirname(hits[-1]))
        break
EOF
)
  [ -n "$RNNX_CUBLAS_PATH" ] && export RNNX_CUBLAS_PATH && say "cuBLAS from $RNNX_CUBLAS_PATH"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

torch_json="$out/torch.json"
if [ $dry = 0 ] && command -v python3 >/dev/null; then
  say "PyTorch cuDNN reference"
  PYTHONUNBUFFERED=1 timeout 180 python3 scripts/device-bench-torch.py "$torch_json" || say "PyTorch timing failed (rc $?)"
fi

say "Node check program"
timeout 300 "$work/node" "$pack/check.mjs" --addon "$repo/$pack/rnnx_native.node" --ort "$work/node_modules/onnxruntime-node" \
  --torch "$torch_json" --out "$out/device-check.json" $([ $dry = 1 ] && echo --quick --dry-run) 2>&1 | tee "$work/check.log"
rc=$?
if [ $dry = 1 ] && [ $rc = 0 ]; then
  # What the dry run promises: the packed program ran to its table, said why there is no CUDA
  # device (when there is none), and ran ONNX Runtime from the pack on the CPU and tried WebGPU.
  expect() { grep -Eq "$1" "$work/check.log" || { say "dry run: expected a line matching /$1/"; rc=1; }; }
  expect '^addon built with CUDA +\| PASS'
  if ! command -v nvidia-smi >/dev/null; then expect '^CUDA device +\| info +\| no CUDA device'; fi
  expect '^ORT CPU EP \(peephole LSTM\) +\| PASS'
  expect '^ORT WebGPU EP \(peephole LSTM\) +\| (PASS|info)'
fi
say "done, exit $rc"
exit $rc
