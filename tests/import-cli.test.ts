// The CLI side of importing foreign ONNX graphs: `rnnx inspect` says whether a file can be
// imported for training (or which node stops it), and `rnnx train` fine-tunes a model named by
// "model": {"from": "file.onnx"} — here a PyTorch export (tests/fixtures/import).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dense, lstm } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';
import { describeOnnx, formatDescription } from '../src/cli/describe-onnx.js';

const tmp = mkdtempSync(join(tmpdir(), 'rnnx-import-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rnnx(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FIX = 'tests/fixtures/import';
const AIRLINE = resolve('models/data/airline-passengers.csv');

/** A config like tests/fixtures/import/finetune-airline.json, with absolute paths and `model` replaced. */
function config(name: string, model: unknown, epochs = 8): string {
  const base = JSON.parse(readFileSync(join(FIX, 'finetune-airline.json'), 'utf8'));
  base.data.path = AIRLINE;
  base.model = model;
  base.training.epochs = epochs;
  base.training.earlyStopping = false; // every epoch runs, so the log's length is known
  base.output = { model: join(tmp, `${name}.onnx`) };
  const path = join(tmp, `${name}.json`);
  writeFileSync(path, JSON.stringify(base));
  return path;
}

/** What `rnnx inspect FILE` prints, and its --json object (the same functions, without a process per call). */
function inspect(file: string) {
  const d = describeOnnx(readFileSync(file), file);
  return { text: formatDescription(d), json: JSON.parse(JSON.stringify(d)) };
}

describe('rnnx inspect: importable for training?', () => {
  it('a PyTorch export: importable, with the layers it becomes and the layout notes', () => {
    const r = rnnx(['inspect', `${FIX}/lstm2_tm_bidir_seq_o17.onnx`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('training: importable for fine-tuning as lstm 4 bidirectional sequences → lstm 4 bidirectional sequences');
    expect(r.stdout).toContain('the file reads x as [time, batch, features]; the imported model reads [batch, time, features]');
    expect(inspect(`${FIX}/lstm1_bf_last_head_o14.onnx`).json.training).toEqual({ trainable: true, via: 'import', layers: 'lstm 5 → dense 2', notes: [] });
    expect(inspect(`${FIX}/lstm2_bf_state_last_head_o14.onnx`).text).toContain('initial states from graph inputs: h0[0:1] → h0_0, c0[0:1] → c0_0, h0[1:2] → h0_1, c0[1:2] → c0_1');
  });

  it('an unsupported file: which node stops it, and why', () => {
    const r = inspect(`${FIX}/unsupported_bidir_last_step.onnx`);
    expect(r.text).toMatch(/^training: not importable: node "\/Gather" \(Gather\) stops it: it picks time step -1 of \/rec\/LSTM's reverse direction/m);
    expect(r.json.training).toMatchObject({ trainable: false, node: '/Gather', opType: 'Gather' });
  });

  it('an rnnx file: trainable as it is', () => {
    expect(inspect('models/airline/airline.onnx').json.training).toEqual({ trainable: true, via: 'rnnx' });
  });
});

describe('rnnx train with "model": {"from": ...}', () => {
  it('fine-tunes a PyTorch export: starts from its weights, loss goes down, the file records where it came from', () => {
    const path = config('finetune', { from: resolve(FIX, 'lstm1_bf_last_head_o17_uni.onnx') }, 12);
    const r = rnnx(['train', path, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const out = join(tmp, 'finetune.onnx');
    const m = Model.load(out);
    const src = Model.load(join(FIX, 'lstm1_bf_last_head_o17_uni.onnx'));
    expect(m.spec).toEqual(src.spec);
    expect(m.metadata.extra).toMatchObject({ 'import.producer': expect.stringMatching(/^pytorch /), pretrained: 'lstm1_bf_last_head_o17_uni.onnx', task: 'forecast' });
    expect(m.metadata.inputNormalization).toBeDefined();
    const log = JSON.parse(readFileSync(join(tmp, 'finetune.log.json'), 'utf8'));
    expect(log.epochs).toHaveLength(12);
    expect(log.epochs[11].loss).toBeLessThan(log.epochs[0].loss);
    // Fine-tuning moved the weights, but not far from where PyTorch left them (lr 0.003, 12 short epochs)
    // whereas a fresh model would start from an unrelated initialisation.
    let moved = 0;
    let norm = 0;
    for (let i = 0; i < m.params.length; i++) {
      moved += (m.params[i] - src.params[i]) ** 2;
      norm += src.params[i] ** 2;
    }
    expect(moved).toBeGreaterThan(0);
    expect(Math.sqrt(moved / norm)).toBeLessThan(0.5);
  });

  it('refuses a model that does not fit the data, naming model.from and both sizes', () => {
    const path = config('wrong-input', { from: resolve(FIX, 'lstm1_bf_last_head_o14.onnx') });
    const r = rnnx(['train', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path}: model.from (${resolve(FIX, 'lstm1_bf_last_head_o14.onnx')}): the model reads 3 features per step, the data has 1`);
    // One feature in, but every step out: the forecaster's targets are one per window.
    const seqModel = join(tmp, 'seq-model.onnx');
    Model.create({ inputSize: 1, layers: [lstm({ units: 3, returnSequences: true }), dense({ units: 1 })] }).save(seqModel);
    const seq = config('wrong-seq', { from: seqModel });
    expect(rnnx(['train', seq]).stderr).toContain(`${seq}: model.from (${seqModel}): the model outputs every step, the data's targets are one per sequence`);
    expect(existsSync(join(tmp, 'wrong-input.onnx'))).toBe(false);
  });

  it('refuses a file the importer cannot map, naming the node', () => {
    const path = config('bad', { from: resolve(FIX, 'unsupported_bidir_last_step.onnx') });
    const r = rnnx(['train', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot import node "/Gather" (Gather)');
  });

  it('refuses "from" next to "layers", and a "from" that is not a path', () => {
    const both = config('both', { from: 'x.onnx', layers: [{ kind: 'lstm', units: 4 }] });
    expect(rnnx(['train', both]).stderr).toContain(`${both}: model: unknown option "layers" next to model.from`);
    const notPath = config('notpath', { from: 3 });
    expect(rnnx(['train', notPath]).stderr).toContain(`${notPath}: model.from must be the path of an .onnx model to fine-tune, got 3`);
  });

  it('a relative model.from is relative to the config file (the shipped example)', () => {
    const r = rnnx(['train', join(FIX, 'finetune-airline.json'), '--epochs', '2', '--out', join(tmp, 'example.onnx'), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(Model.load(join(tmp, 'example.onnx')).metadata.extra?.pretrained).toBe('lstm1_bf_last_head_o17_uni.onnx');
  });
});
