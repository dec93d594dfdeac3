// `rnnx generate MODEL --seed TEXT --length N --temperature T`: char-level sampling.
//
// It runs the stateful form of the graph (h0_k/c0_k in, hT_k/cT_k out), re-exported in memory
// from the model file: the seed is read once, then each new character is one step [1, 1, V]
// that carries the state forward. Rerunning a stateless graph on a sliding window would cost
// O(window) per character and forget everything before the window; the stateful graph costs
// O(1) per character and conditions on the whole text so far, exactly as training did within
// a sequence.

import { toOnnx } from '../../graph/export.js';
import { Rng } from '../../layers/random.js';
import { InferenceModel, type LayerState } from '../../runtime/inference.js';
import type { ProviderName } from '../../runtime/providers.js';
import { UserError } from '../../data/errors.js';
import { encodeText, oneHot } from '../../data/text.js';
import { userInputAsync } from '../errors.js';
import { loadRnnxModel } from '../model-file.js';
import { checkWritable, writeOutput } from '../output.js';
import { providersArg } from '../providers.js';

export interface GenerateOptions {
  seed: string;
  length: number;
  temperature: number;
  randomSeed: number;
  providers?: ProviderName[];
}

/** Samples index i with probability ∝ p_i^(1/temperature). */
export function sampleIndex(probs: ArrayLike<number>, temperature: number, rng: Rng): number {
  const logits = Array.from(probs, (p) => Math.log(Math.max(p, 1e-30)) / temperature);
  const m = Math.max(...logits);
  const w = logits.map((l) => Math.exp(l - m));
  let u = rng.uniform() * w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < w.length; i++) {
    u -= w[i];
    if (u <= 0) return i;
  }
  return w.length - 1;
}

/** Generates `length` characters continuing `seed` with the char-level model in `path`. */
export async function generateText(path: string, o: GenerateOptions): Promise<string> {
  const model = loadRnnxModel(path);
  const vocab = model.metadata.vocabulary;
  if (!vocab || vocab.length === 0) throw new UserError(`${path}: not a char-level model (its metadata has no vocabulary)`);
  if (model.inputSize !== vocab.length) throw new UserError(`${path}: the model reads ${model.inputSize} features but its vocabulary has ${vocab.length} characters`);
  if (model.outputSize !== vocab.length) throw new UserError(`${path}: the model outputs ${model.outputSize} values per step, expected one probability per character (${vocab.length})`);
  if (!(o.temperature > 0) || !Number.isFinite(o.temperature)) throw new UserError(`--temperature must be a positive number, got ${o.temperature}`);
  if (!Number.isInteger(o.length) || o.length < 0) throw new UserError(`--length must be a non-negative integer, got ${o.length}`);
  if (o.seed.length === 0) throw new UserError('--seed must not be empty: the sample continues it');
  const seedCodes = encodeText(o.seed, vocab, '--seed');
  const V = vocab.length;
  const session = await userInputAsync(path, async () => InferenceModel.open(toOnnx(model, { stateful: true }), { providers: o.providers ?? ['cpu'] }));
  try {
    const rng = new Rng(o.randomSeed);
    const lastStep = (y: Float32Array, dims: number[]) => (dims.length === 3 ? y.subarray((dims[1] - 1) * V, dims[1] * V) : y.subarray(0, V));
    let r = await session.run(oneHot(seedCodes, V), { batch: 1, time: seedCodes.length });
    let state: LayerState[] = r.state!;
    let probs = lastStep(r.y, r.dims);
    const out: string[] = [];
    for (let i = 0; i < o.length; i++) {
      const k = sampleIndex(probs, o.temperature, rng);
      out.push(vocab[k]);
      r = await session.run(oneHot([k], V), { batch: 1, time: 1, state });
      state = r.state!;
      probs = lastStep(r.y, r.dims);
    }
    return out.join('');
  } finally {
    await session.release();
  }
}

export default async function generate(argv: Record<string, unknown>): Promise<void> {
  const out = argv.output === undefined ? undefined : String(argv.output);
  if (out) checkWritable(out);
  const text = await generateText(String(argv.model), {
    seed: String(argv.seed ?? '\n'),
    length: Number(argv.length ?? 400),
    temperature: Number(argv.temperature ?? 0.8),
    randomSeed: argv['random-seed'] === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(argv['random-seed']),
    providers: providersArg(argv),
  });
  const full = String(argv.seed ?? '') + text;
  if (out) {
    writeOutput(out, full);
    process.stderr.write(`wrote ${out} (${text.length} generated characters)\n`);
  } else process.stdout.write(full + '\n');
}
