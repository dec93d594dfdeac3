#!/usr/bin/env node
// Native mutation run (`npm run test:mutation:native`): applies each mutant of
// scripts/mutation/native-mutants.json, one at a time, to a scratch copy of the repository,
// rebuilds the addon incrementally, runs the addon's test files and prints killed / survived.
// The working tree is never edited: a crash mid-run leaves at most a scratch folder in the temp
// directory. A mutant whose `find` text no longer occurs exactly once is reported stale (the code
// changed under it) and fails the run, like a survivor.
//
// Options: --only id,id  run these mutants   --keep  keep the scratch copy
//          --check       only report stale mutants (no build, no tests)
//          --list FILE   another mutant list  --tests a,b  other test files
//          --json FILE   write the results (default reports/native-mutation.json)

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const keep = args.includes('--keep');
const listPath = resolve(root, opt('--list') ?? 'scripts/mutation/native-mutants.json');
const jsonPath = resolve(root, opt('--json') ?? 'reports/native-mutation.json');
const list = JSON.parse(readFileSync(listPath, 'utf8'));
const only = opt('--only')?.split(',');
const mutants = only ? list.mutants.filter((m) => only.includes(m.id)) : list.mutants;
if (only && mutants.length !== only.length) {
  console.error(`--only: unknown mutant id(s): ${only.filter((id) => !list.mutants.some((m) => m.id === id)).join(', ')}`);
  process.exit(2);
}
// The addon's test files: the native kernels, gradients, loss definitions, trainer and fit.
const testFiles = opt('--tests')?.split(',') ?? list.tests;
// A mutant that makes the code loop for ever is killed by the timeout, as in Stryker.
const TEST_TIMEOUT_MS = 10 * 60_000;

/** Times `find` occurs in the file (0 when the file is missing): a mutant applies only when it is 1. */
function occurrences(base, m) {
  const path = join(base, m.file);
  return existsSync(path) ? readFileSync(path, 'utf8').split(m.find).length - 1 : 0;
}
// --check: only whether every mutant still applies to the working tree (no build, no tests).
if (args.includes('--check')) {
  const stale = mutants.filter((m) => occurrences(root, m) !== 1);
  for (const m of stale) console.log(`stale: ${m.id}: the text occurs ${occurrences(root, m)} times in ${m.file}, expected once`);
  console.log(`${mutants.length - stale.length} of ${mutants.length} mutants apply`);
  process.exit(stale.length ? 1 : 0);
}

const t0 = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(0)}s`;
const scratch = mkdtempSync(join(tmpdir(), 'rnnx-native-mutants-'));
const cleanup = () => {
  if (!keep) rmSync(scratch, { recursive: true, force: true });
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

function run(cmd, argv, options = {}) {
  const r = spawnSync(cmd, argv, { cwd: scratch, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
  return { ok: r.status === 0, timedOut: r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGTERM', out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

// The tracked and untracked-but-not-ignored files: what a clean checkout of this tree would hold.
const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .stdout.split('\0').filter(Boolean);
for (const f of files) {
  const src = join(root, f);
  if (!existsSync(src)) continue; // deleted in the working tree
  mkdirSync(dirname(join(scratch, f)), { recursive: true });
  copyFileSync(src, join(scratch, f));
}
symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
const nodeGyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
// Headers from where the working tree's addon was configured (npm's nodedir), not downloaded.
const gypi = join(root, 'build', 'config.gypi');
const nodedir = process.env.npm_config_nodedir ?? (existsSync(gypi) ? readFileSync(gypi, 'utf8').match(/"nodedir": "([^"]+)"/)?.[1] : undefined);
const build = (full) => run(process.execPath, [nodeGyp, full ? 'rebuild' : 'build', '-j', '2', '--loglevel', 'error', ...(nodedir ? [`--nodedir=${nodedir}`] : [])]);
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const test = () => run(process.execPath, [vitest, 'run', '--bail', '1', ...testFiles], { timeout: TEST_TIMEOUT_MS, env: { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' } });
const failedFiles = (out) => [...new Set([...out.matchAll(/FAIL\s+(tests\/\S+\.test\.ts)/g)].map((m) => m[1]))];

console.log(`native mutants: ${mutants.length} from ${listPath.slice(root.length + 1)}; scratch copy ${scratch}`);
let b = build(true);
if (!b.ok) {
  console.error(`the unmutated addon does not build in the scratch copy:\n${b.out}`);
  cleanup();
  process.exit(2);
}
// A baseline failure would make every mutant look killed.
const base = test();
if (!base.ok) {
  console.error(`the unmutated tests fail (${failedFiles(base.out).join(', ') || 'see output'}): fix them first\n${base.out.slice(-4000)}`);
  cleanup();
  process.exit(2);
}
console.log(`baseline: built and tests passed (${secs(Date.now() - t0)})`);

const results = [];
mutants.forEach((m, k) => {
  const started = Date.now();
  const path = join(scratch, m.file);
  const original = existsSync(path) ? readFileSync(path, 'utf8') : null;
  const count = occurrences(scratch, m);
  let status;
  let detail = '';
  if (count !== 1) {
    status = 'stale';
    detail = original === null ? `${m.file} does not exist` : `the text occurs ${count} times in ${m.file}, expected once`;
  } else {
    const idx = original.indexOf(m.find);
    write(path, original.slice(0, idx) + m.replace + original.slice(idx + m.find.length));
    b = build(false);
    if (!b.ok) {
      status = 'compile-error';
      detail = b.out.split('\n').find((l) => /error/.test(l)) ?? 'build failed';
    } else {
      const r = test();
      if (r.timedOut) status = 'killed (timeout)';
      else if (!r.ok) {
        status = 'killed';
        detail = failedFiles(r.out).join(', ');
      } else status = 'survived';
    }
    write(path, original);
  }
  const line = `[${k + 1}/${mutants.length}] ${m.id.padEnd(34)} ${status.padEnd(16)} ${secs(Date.now() - started).padStart(5)}  ${detail}`;
  console.log(line);
  results.push({ id: m.id, file: m.file, what: m.what, status, detail, seconds: (Date.now() - started) / 1000 });
});

/** Writes the file and stamps it now, so that make rebuilds what depends on it. */
function write(path, text) {
  writeFileSync(path, text);
  const now = new Date();
  utimesSync(path, now, now);
}

const killed = results.filter((r) => r.status.startsWith('killed')).length;
const survived = results.filter((r) => r.status === 'survived');
const stale = results.filter((r) => r.status === 'stale');
const broken = results.filter((r) => r.status === 'compile-error');
const total = Date.now() - t0;
console.log(`\nkilled ${killed}, survived ${survived.length}, stale ${stale.length}, compile errors ${broken.length} of ${results.length}; ` +
  `score ${((100 * killed) / Math.max(1, results.length - stale.length - broken.length)).toFixed(1)}%; ${secs(total)}`);
for (const r of survived) console.log(`  survived: ${r.id} (${r.file}): ${r.what}`);
for (const r of stale) console.log(`  stale: ${r.id}: ${r.detail}; update scripts/mutation/native-mutants.json`);
for (const r of broken) console.log(`  compile error: ${r.id}: ${r.detail}`);

mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(`${jsonPath}.tmp`, JSON.stringify({ finishedAt: new Date().toISOString(), seconds: total / 1000, tests: testFiles, results }, null, 2) + '\n');
renameSync(`${jsonPath}.tmp`, jsonPath);
cleanup();
process.exit(survived.length + stale.length + broken.length > 0 ? 1 : 0);
