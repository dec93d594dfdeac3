#!/usr/bin/env node
// A sampled mutation score per folder (`npm run test:mutation:sample`), for machines where the
// full run (`npm run test:mutation`, about 11,000 mutants) takes too long: it draws a seeded,
// uniform random sample of Stryker's own mutants in each folder, runs Stryker on just those, and
// prints each folder's score with a 95% Wilson interval.
//
//   npm run test:mutation:sample -- [--per-folder 120] [--seed 1] [--folders data,graph] [--concurrency 2]
// runs the three steps below; they can also be run one at a time:
//   node scripts/mutation/sample.mjs plan  [same options]
//   RNNX_MUTATION_SAMPLE=reports/mutation-sample/sample.json npx stryker run reports/mutation-sample/stryker.config.json
//   node scripts/mutation/sample.mjs score
// (--out DIR puts the plan, the report and the score's input in DIR instead.)
//
// `plan` writes reports/mutation-sample/{sample.json,stryker.config.json}. Stryker selects
// mutants by source range, so a sampled mutant whose node encloses others (a function body
// emptied) brings them along: they run but are not counted, and the sample stays uniform.
// The score is Stryker's: killed and timed-out over killed, timed-out, survived and not covered;
// compile and runtime errors are left out, and so are the survivors listed as equivalent in
// scripts/mutation/equivalent-mutants.md (by file and line:column).

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
// Several plans can live side by side (--out); sample-ignorer.mjs finds this one through the
// environment variable RNNX_MUTATION_SAMPLE, which the `all` command sets.
const outDir = resolve(root, opt('--out', 'reports/mutation-sample'));

function writeAtomic(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

// mulberry32: a small seeded generator, so that a plan can be drawn again exactly.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const key = (file, line, column, mutatorName, replacement) => `${file}|${line}:${column}|${mutatorName}|${replacement}`;

async function plan() {
  const { Instrumenter } = await import('@stryker-mutator/instrumenter');
  const config = JSON.parse(readFileSync(join(root, 'stryker.config.json'), 'utf8'));
  const excluded = new Set(config.mutate.filter((p) => p.startsWith('!')).map((p) => p.slice(1)));
  const folders = opt('--folders', 'data,graph,train,runtime,serve').split(',');
  const perFolder = Number(opt('--per-folder', '120'));
  const seed = Number(opt('--seed', '1'));
  if (!Number.isInteger(perFolder) || perFolder < 1) throw new Error('--per-folder must be a positive integer');

  const files = folders.flatMap((folder) =>
    readdirSync(join(root, 'src', folder))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => `src/${folder}/${f}`)
      .filter((f) => !excluded.has(f)));
  const silent = () => false;
  const logger = { isTraceEnabled: silent, isDebugEnabled: silent, isInfoEnabled: silent, isWarnEnabled: silent, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
  const result = await new Instrumenter(logger).instrument(
    files.map((name) => ({ name, content: readFileSync(join(root, name), 'utf8'), mutate: true })),
    { plugins: null, excludedMutations: [], ignorers: [], noHeader: true, mutationRanges: [] },
  );

  const next = random(seed);
  const sample = [];
  const population = {};
  for (const folder of folders) {
    const pool = result.mutants.filter((m) => m.fileName.startsWith(`src/${folder}/`));
    population[folder] = pool.length;
    // Partial Fisher–Yates: the first `take` entries are a uniform sample without replacement.
    const take = Math.min(perFolder, pool.length);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(next() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    for (const m of pool.slice(0, take)) {
      sample.push({
        folder,
        file: m.fileName,
        // Stryker's instrumenter counts lines from 0 and columns from 0; the report and the
        // mutate ranges count lines from 1.
        line: m.location.start.line + 1,
        column: m.location.start.column + 1,
        end: { line: m.location.end.line + 1, column: m.location.end.column + 1 },
        mutatorName: m.mutatorName,
        replacement: m.replacement,
        range: `${m.fileName}:${m.location.start.line + 1}:${m.location.start.column}-${m.location.end.line + 1}:${m.location.end.column}`,
      });
    }
  }
  // What the run will cost: a mutant runs when it lies inside a sampled node (Stryker's ranges)
  // and encloses one (sample-ignorer.mjs). Spans are [file, [line, column], [line, column]].
  const before = (x, y) => x[0] < y[0] || (x[0] === y[0] && x[1] <= y[1]);
  const contains = (outer, inner) => outer[0] === inner[0] && before(outer[1], inner[1]) && before(inner[2], outer[2]);
  const spanOf = (m) => [m.fileName, [m.location.start.line, m.location.start.column], [m.location.end.line, m.location.end.column]];
  const sampled = sample.map((x) => [x.file, [x.line - 1, x.column - 1], [x.end.line - 1, x.end.column - 1]]);
  const runs = result.mutants.map(spanOf)
    .filter((m) => sampled.some((r) => contains(r, m)) && sampled.some((r) => contains(m, r))).length;

  const strykerConfig = {
    ...config,
    _comment: `Generated by scripts/mutation/sample.mjs plan (seed ${seed}, ${perFolder} per folder); not checked in.`,
    mutate: sample.map((s) => s.range),
    plugins: ['@stryker-mutator/*', './scripts/mutation/sample-ignorer.mjs'],
    ignorers: ['rnnx-sample'],
    incremental: false,
    concurrency: Number(opt('--concurrency', '2')),
    reporters: ['progress', 'json'],
    jsonReporter: { fileName: relative(root, join(outDir, 'mutation.json')) },
  };
  delete strykerConfig.incrementalFile;
  delete strykerConfig.htmlReporter;
  delete strykerConfig.$schema;
  writeAtomic(join(outDir, 'sample.json'), `${JSON.stringify({ seed, perFolder, population, sample }, null, 1)}\n`);
  writeAtomic(join(outDir, 'stryker.config.json'), `${JSON.stringify(strykerConfig, null, 2)}\n`);
  console.log(`sampled ${sample.length} of ${result.mutants.length} mutants (seed ${seed}); the run covers ${runs} mutants`);
  for (const folder of folders) console.log(`  src/${folder}: ${sample.filter((s) => s.folder === folder).length} of ${population[folder]}`);
  console.log(`next: RNNX_MUTATION_SAMPLE=${relative(root, join(outDir, 'sample.json'))} npx stryker run ${relative(root, join(outDir, 'stryker.config.json'))}`);
}

// Equivalent survivors from the checked-in list: "## src/x.ts" headings, then rows whose first
// cell is one "line:col" or several, comma-separated ("| 112:5, 113:5 |").
function equivalents() {
  const text = readFileSync(join(root, 'scripts/mutation/equivalent-mutants.md'), 'utf8');
  const set = new Set();
  let file;
  for (const line of text.split('\n')) {
    const heading = /^## (src\/\S+\.ts)/.exec(line);
    if (heading) file = heading[1];
    const row = /^\| (\d+:\d+(?:, \d+:\d+)*) \|/.exec(line);
    if (row && file) for (const at of row[1].split(', ')) set.add(`${file}|${at}`);
  }
  return set;
}

// Wilson score interval for k successes out of n, 95%.
function wilson(k, n) {
  if (n === 0) return [NaN, NaN];
  const z = 1.96;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [c - h, c + h];
}

function score() {
  const { sample, population } = JSON.parse(readFileSync(join(outDir, 'sample.json'), 'utf8'));
  const report = JSON.parse(readFileSync(join(outDir, 'mutation.json'), 'utf8'));
  const statusOf = new Map();
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const rel = relative(root, resolve(root, file));
    for (const m of mutants) statusOf.set(key(rel, m.location.start.line, m.location.start.column, m.mutatorName, m.replacement), m);
  }
  const equivalent = equivalents();
  const folders = [...new Set(sample.map((s) => s.folder))];
  const survivors = [];
  let missing = 0;
  console.log('folder        sampled  killed  survived  no-cov  invalid  equiv   score   95% interval');
  for (const folder of folders) {
    const rows = sample.filter((s) => s.folder === folder);
    let killed = 0, survived = 0, noCoverage = 0, invalid = 0, equiv = 0;
    for (const s of rows) {
      const m = statusOf.get(key(s.file, s.line, s.column, s.mutatorName, s.replacement));
      if (!m) { missing++; continue; }
      if (m.status === 'Killed' || m.status === 'Timeout') killed++;
      else if (m.status === 'CompileError' || m.status === 'RuntimeError' || m.status === 'Ignored') invalid++;
      else if (equivalent.has(`${s.file}|${s.line}:${s.column}`)) equiv++;
      else {
        if (m.status === 'NoCoverage') noCoverage++;
        else survived++;
        survivors.push(`${m.status.padEnd(10)} ${s.file}:${s.line}:${s.column}  ${s.mutatorName}: ${JSON.stringify(s.replacement).slice(0, 90)}`);
      }
    }
    const n = killed + survived + noCoverage;
    const [lo, hi] = wilson(killed, n);
    const pct = (x) => `${(100 * x).toFixed(1)}%`;
    console.log(`src/${folder.padEnd(9)} ${String(rows.length).padStart(4)}/${population[folder]}`.padEnd(21) +
      `${String(killed).padStart(6)}  ${String(survived).padStart(8)}  ${String(noCoverage).padStart(6)}  ${String(invalid).padStart(7)}  ${String(equiv).padStart(5)}  ${pct(killed / n).padStart(6)}   ${pct(lo)}–${pct(hi)}`);
  }
  if (missing) console.log(`${missing} sampled mutant(s) not in the report: was the run interrupted, or the source edited since the plan?`);
  if (survivors.length) {
    console.log('\nsurvivors (kill with a test, or list in scripts/mutation/equivalent-mutants.md with the reason):');
    for (const s of survivors) console.log(`  ${s}`);
  }
}

const command = args[0]?.startsWith('--') || args[0] === undefined ? 'all' : args[0];
if (command === 'plan') await plan();
else if (command === 'score') score();
else if (command === 'all') {
  await plan();
  const started = Date.now();
  const stryker = spawnSync('npx', ['stryker', 'run', relative(root, join(outDir, 'stryker.config.json'))], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, RNNX_MUTATION_SAMPLE: join(outDir, 'sample.json') },
  });
  if (stryker.status !== 0) process.exit(stryker.status ?? 1);
  console.log(`\nStryker ran for ${((Date.now() - started) / 60_000).toFixed(1)} min`);
  score();
} else {
  console.error('usage: sample.mjs [plan|score] [--per-folder N] [--seed S] [--folders a,b] [--concurrency C] [--out DIR]');
  process.exit(2);
}
