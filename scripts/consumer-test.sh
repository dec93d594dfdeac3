#!/usr/bin/env bash
# Consumer test (issue 10), run by .ci/run after `npm test`: rnnx as another project sees it.
#  1. builds the linux-x64 prebuild (CPU only) with prebuildify and packs the tarball;
#  2. installs the tarball into a fresh app whose PATH holds only node, npm and a few shell tools
#     (no compiler, make, Python or nvcc), with ONNXRUNTIME_NODE_INSTALL=skip;
#  3. type-checks tests/consumer/consumer.ts strictly (skipLibCheck false, types ["node"]) as ESM
#     (module nodenext) and CommonJS (node16, node20), then runs the ESM and the node16 build:
#     train a tiny LSTM, save, predict with InferenceModel, serve; `npx rnnx --version`,
#     `npx rnnx predict`;
#  4. removes the addon from the installed package and checks that inference, serving,
#     `rnnx predict | inspect | serve` still work and that training fails with RNNX_NO_NATIVE.
# Prints the tarball's size and file count, the installed size and the install time.
# RNNX_CONSUMER_KEEP=1 keeps the temporary folder; RNNX_CONSUMER_REFERENCE=1 also times installing
# onnxruntime-node alone (the bulk of the install) as a reference for the install time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
t0=$SECONDS
say() { printf 'consumer-test: %s\n' "$*"; }
fail() { printf 'consumer-test: FAIL: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/rnnx-consumer.XXXXXX")
[ "${RNNX_CONSUMER_KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT

# 1. Prebuild (rebuilt when native/ or binding.gyp is newer) and tarball.
prebuild=$(ls prebuilds/linux-x64/*.node 2>/dev/null | head -1 || true)
if [ -z "$prebuild" ] || [ -n "$(find native binding.gyp -newer "$prebuild" -print -quit)" ]; then
  say "building the linux-x64 prebuild (CPU only)"
  rm -rf prebuilds
  RNNX_CUDA=0 JOBS=2 npx prebuildify --napi --strip --tag-libc
  prebuild=$(ls prebuilds/linux-x64/*.node)
fi
glibc=$(objdump -T "$prebuild" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1 || true)
say "prebuild $prebuild: $(stat -c %s "$prebuild") bytes, needs ${glibc:-?}"
npm pack --json --pack-destination "$work" > "$work/pack.json"
tarball=$(node -e 'const p=require(process.argv[1])[0]; console.log(p.filename)' "$work/pack.json")
node -e '
  const p = require(process.argv[1])[0];
  const files = p.files.map((f) => f.path);
  const bad = files.filter((f) => /^(tests|bench|\.ci|\.github)\//.test(f) || (/^scripts\//.test(f) && !/^scripts\/(install|detect-nvcc)\.mjs$/.test(f)) || /\.(ts|map)$/.test(f) && !/\.d\.c?ts$/.test(f));
  for (const need of ["LICENSE", "CHANGELOG.md", "README.md", "binding.gyp", "package.json", "dist/src/index.js", "dist/src/index.d.cts", "dist/src/inference.d.ts"]) if (!files.includes(need)) bad.push("missing " + need);
  if (!files.some((f) => /^prebuilds\/linux-x64\/.*\.node$/.test(f))) bad.push("missing the linux-x64 prebuild");
  if (bad.length) { console.error("consumer-test: FAIL: tarball content: " + bad.join(", ")); process.exit(1); }
  console.log(`consumer-test: tarball ${p.filename}: ${(p.size / 1e6).toFixed(2)} MB, ${p.entryCount} files, ${(p.unpackedSize / 1e6).toFixed(2)} MB unpacked`);
' "$work/pack.json"

# The declarations a consumer compiles must not reach onnx-proto / protobufjs (their globals need @types/long).
node -e '
  const fs = require("fs"), path = require("path");
  const seen = new Set(), todo = ["dist/src/index.d.ts", "dist/src/inference.d.ts", "dist/src/index.d.cts"];
  const leaks = [];
  while (todo.length) {
    const f = todo.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    for (const m of fs.readFileSync(f, "utf8").matchAll(/(?:from|import)\s*\(?\s*["\x27]([^"\x27]+)["\x27]/g)) {
      const s = m[1];
      if (s.startsWith(".")) todo.push(path.join(path.dirname(f), s.replace(/\.c?js$/, (e) => (e === ".cjs" ? ".d.cts" : ".d.ts"))));
      else if (/^(onnx-proto|protobufjs|long)(\/|$)/.test(s)) leaks.push(`${f} imports ${s}`);
    }
  }
  if (leaks.length) { console.error("consumer-test: FAIL: " + leaks.join("; ")); process.exit(1); }
  console.log(`consumer-test: ${seen.size} public declaration files, none imports onnx-proto/protobufjs`);
'

# 2. A PATH with node, npm and shell tools only.
bin="$work/bin"
mkdir -p "$bin"
for t in node npm npx sh bash env cat ls rm mkdir cp mv ln chmod dirname basename uname grep sed sort head tail tr wc find stat sleep kill mktemp date tee; do
  p=$(command -v "$t" || true)
  [ -n "$p" ] && ln -s "$(readlink -f "$p")" "$bin/$t"
done
# npm's own scripts call `node` through /usr/bin/env; keep its global prefix and cache.
export npm_config_cache="${npm_config_cache:-$(npm config get cache)}"
for t in cc gcc g++ c++ clang make python3 python nvcc; do
  if PATH="$bin" command -v "$t" >/dev/null 2>&1; then fail "$t is reachable from the test PATH"; fi
done

app="$work/app"
mkdir -p "$app"
# npm 11's allowScripts (keyed by the file spec for a tarball) lets rnnx's install script run, as
# npm 10 does by default: it must find the prebuild and compile nothing. onnxruntime-node's stays off.
cat > "$app/package.json" <<JSON
{ "name": "rnnx-consumer", "version": "1.0.0", "private": true, "allowScripts": { "file:$work/$tarball": true } }
JSON
tsver=$(node -p 'require("./node_modules/typescript/package.json").version')
typesver=$(node -p 'require("./node_modules/@types/node/package.json").version')
cd "$app"
export ONNXRUNTIME_NODE_INSTALL=skip
start=$(date +%s.%N)
PATH="$bin" npm install --no-audit --no-fund --prefer-offline "$work/$tarball" > "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "npm install of the tarball"; }
end=$(date +%s.%N)
say "installed the tarball in $(node -e "console.log((($end) - ($start)).toFixed(1))") s (warm npm cache, no compiler on PATH)"
grep -q 'rnnx@.*install' "$work/install.log" && fail "npm skipped rnnx's install script (allowScripts)"
if [ "${RNNX_CONSUMER_REFERENCE:-}" = 1 ]; then
  # Reference in the same run: onnxruntime-node alone, same flags, into another fresh app.
  mkdir -p "$work/ref" && echo '{ "name": "ref", "version": "1.0.0", "private": true }' > "$work/ref/package.json"
  ortver=$(node -p 'require("./node_modules/onnxruntime-node/package.json").version')
  start=$(date +%s.%N)
  (cd "$work/ref" && PATH="$bin" npm install --no-audit --no-fund --prefer-offline "onnxruntime-node@$ortver" > "$work/ref.log" 2>&1) || fail "reference install"
  end=$(date +%s.%N)
  say "reference, same run: onnxruntime-node@$ortver alone installed in $(node -e "console.log((($end) - ($start)).toFixed(1))") s"
fi
[ ! -d node_modules/rnnx/build ] || fail "the install compiled the addon although a prebuild matches"
say "installed size: node_modules $(du -sm node_modules | cut -f1) MB, of which rnnx $(du -sk node_modules/rnnx | cut -f1) KB, onnxruntime-node $(du -sm node_modules/onnxruntime-node | cut -f1) MB"
PATH="$bin" npm install --no-audit --no-fund --prefer-offline --no-save "typescript@$tsver" "@types/node@$typesver" > "$work/install-ts.log" 2>&1 || { cat "$work/install-ts.log"; fail "installing typescript"; }

# 3. Strict type checks in the three module settings, and runs.
for m in nodenext node16 node20; do
  mkdir -p "$app/$m"
  cp "$root/tests/consumer/consumer.ts" "$app/$m/"
  cp "$root/tests/consumer/tsconfig.$m.json" "$app/$m/tsconfig.json"
  if [ $m = nodenext ]; then echo '{ "type": "module" }' > "$app/$m/package.json"; else echo '{ "type": "commonjs" }' > "$app/$m/package.json"; fi
  PATH="$bin" npx tsc -p "$app/$m/tsconfig.json" || fail "tsc ($m) of tests/consumer/consumer.ts"
  say "tsc strict, skipLibCheck false, module $m: ok"
done
grep -q 'require("rnnx")' "$app/node16/out-node16/consumer.js" || fail "the node16 build does not require('rnnx')"
PATH="$bin" node nodenext/out-nodenext/consumer.js train "$app" || fail "ESM consumer: train, save, predict, serve"
PATH="$bin" node node16/out-node16/consumer.js no-addon "$app" >/dev/null 2>&1 && fail "no-addon mode passed although the addon is present" || true
version=$(PATH="$bin" npx rnnx --version)
[ "$version" = "$(node -p 'require("./node_modules/rnnx/package.json").version')" ] || fail "npx rnnx --version printed $version"
say "npx rnnx --version: $version"
check_predict() {
  PATH="$bin" npx rnnx predict tiny-lstm.onnx -i x.json > "$work/predict.json" || fail "npx rnnx predict ($1)"
  node -e '
    const y = require(process.argv[1]).flat(Infinity), e = require(process.argv[2]);
    const d = Math.max(...e.map((v, i) => Math.abs(v - y[i])));
    if (y.length !== e.length || !(d < 1e-5)) { console.error(`consumer-test: FAIL: rnnx predict differs from InferenceModel (${y.length} values, max |diff| ${d})`); process.exit(1); }
  ' "$work/predict.json" "$app/expected.json"
  say "npx rnnx predict ($1): $(node -p 'require(process.argv[1]).length' "$work/predict.json") predictions equal InferenceModel's"
}
check_predict "addon present"
PATH="$bin" npx rnnx quickstart --out "$work/quickstart" > "$work/quickstart.log" 2>&1 || { cat "$work/quickstart.log"; fail "npx rnnx quickstart in the app"; }
say "npx rnnx quickstart (shipped airline model and data): ok"

# 4. The addon removed: inference and serving work, training says RNNX_NO_NATIVE.
rm -rf node_modules/rnnx/prebuilds node_modules/rnnx/build
# No prebuild and no compiler: the fallback compile fails, the install script still exits 0.
PATH="$bin" npm rebuild rnnx --foreground-scripts > "$work/rebuild.log" 2>&1 || { cat "$work/rebuild.log"; fail "npm rebuild rnnx failed without a compiler"; }
grep -q 'compiling it failed' "$work/rebuild.log" || { cat "$work/rebuild.log"; fail "npm rebuild rnnx: no fallback message"; }
say "npm rebuild rnnx without prebuild or compiler: exit 0, $(grep -m1 'compiling it failed' "$work/rebuild.log")"
PATH="$bin" node nodenext/out-nodenext/consumer.js no-addon "$app" || fail "ESM consumer without the addon"
PATH="$bin" node node16/out-node16/consumer.js no-addon "$app" || fail "CommonJS (node16) consumer without the addon"
check_predict "no addon"
PATH="$bin" npx rnnx inspect tiny-lstm.onnx > "$work/inspect.txt" || fail "npx rnnx inspect without the addon"
grep -qi lstm "$work/inspect.txt" || fail "rnnx inspect does not describe the LSTM"
say "npx rnnx inspect (no addon): ok"
# The bin itself (not npx) so that SIGTERM reaches the server.
PATH="$bin" node_modules/.bin/rnnx serve tiny-lstm.onnx --port 0 > "$work/serve.out" 2> "$work/serve.err" &
serve_pid=$!
for _ in $(seq 1 100); do grep -q listening "$work/serve.out" && break; sleep 0.2; done
url=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").split("\n")[0]).listening)' "$work/serve.out") || { kill "$serve_pid"; cat "$work/serve.err"; fail "npx rnnx serve did not start"; }
node -e '
  fetch(process.argv[1] + "/v1/predict", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input: require(process.argv[2])[0] }) })
    .then(async (r) => { const b = await r.json(); const e = require(process.argv[3])[0];
      if (r.status !== 200 || Math.abs(b.output[0] - e) > 1e-5) { console.error("consumer-test: FAIL: rnnx serve answered", r.status, JSON.stringify(b)); process.exit(1); } })
' "$url" "$app/x.json" "$app/expected.json" || { kill "$serve_pid"; fail "rnnx serve prediction"; }
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "rnnx serve did not exit 0 on SIGTERM"
say "npx rnnx serve (no addon): answered /v1/predict like InferenceModel, exited 0 on SIGTERM"
set +e
PATH="$bin" npx rnnx train node_modules/rnnx/models/airline/config.json --out "$work/t.onnx" > "$work/train.out" 2> "$work/train.err"
rc=$?
set -e
# Progress lines come first; the error is the last line, alone, with the fix.
[ $rc = 1 ] && tail -1 "$work/train.err" | grep -q 'RNNX_NO_NATIVE.*Fix: .*npm rebuild rnnx' && [ "$(grep -c 'RNNX_NO_NATIVE' "$work/train.err")" = 1 ] ||
  { cat "$work/train.err"; fail "npx rnnx train without the addon: exit $rc, expected 1 and one RNNX_NO_NATIVE line"; }
say "npx rnnx train (no addon): exit 1, $(tail -1 "$work/train.err")"
say "ok in $((SECONDS - t0)) s"
