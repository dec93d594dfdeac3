#!/usr/bin/env bash
# `npm run test:sanitize`: builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-sanitize/ (never the normal build/) and runs every test file that loads the addon against
# that build (RNNX_NATIVE_PATH), with the sanitizer runtimes preloaded into node. Any sanitizer
# report fails the run: UBSan does not recover, ASan aborts on the first error, LSan reports leaks
# at exit. Only Node's and V8's own allocations are suppressed (scripts/lsan-node.supp).
#   SANITIZE_SKIP_BUILD=1  reuse an existing build-sanitize/ (for reruns)
#   extra arguments         test files to run instead of the default list
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir="$root/build-sanitize"
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
if [[ ! -e "$asan" || ! -e "$ubsan" ]]; then
  echo "test:sanitize needs gcc's libasan and libubsan (got '$asan', '$ubsan')" >&2
  exit 1
fi

if [[ "${SANITIZE_SKIP_BUILD:-0}" != 1 || ! -f "$dir/build/Release/rnnx_native.node" ]]; then
  # A shadow tree with copies of binding.gyp and native/ (gyp writes makefiles beside the .gyp
  # files, so a symlinked native/ would get them), so node-gyp writes only here.
  mkdir -p "$dir"
  rm -rf "$dir/native"
  cp -R native "$dir/native"
  ln -sfn ../scripts "$dir/scripts"
  ln -sfn ../node_modules "$dir/node_modules"
  cp binding.gyp "$dir/binding.gyp"
  flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
  start=$(date +%s)
  # CUDA off: nvcc objects are not instrumented, and the host emulation covers that code.
  RNNX_CUDA=0 CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
    npx node-gyp rebuild -C "$dir" -j 2 >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log" >&2; exit 1; }
  echo "test:sanitize: built $dir/build/Release/rnnx_native.node in $(( $(date +%s) - start ))s"
fi

# Every test file that loads the addon (directly, through src/train, or through the CLI's train).
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  files=(tests/native-*.test.ts tests/train*.test.ts tests/gradients.test.ts tests/gemm.test.ts tests/cuda.test.ts \
         tests/fuzz-native.test.ts tests/cli-train.test.ts)
fi

export RNNX_NATIVE_PATH="$dir/build/Release/rnnx_native.node"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:detect_odr_violation=0:print_suppressions=0"
export LSAN_OPTIONS="suppressions=$root/scripts/lsan-node.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export RNNX_SANITIZE=1
start=$(date +%s)
LD_PRELOAD="$asan:$ubsan" node node_modules/vitest/vitest.mjs run "${files[@]}"
echo "test:sanitize: tests passed under ASan+UBSan in $(( $(date +%s) - start ))s"
