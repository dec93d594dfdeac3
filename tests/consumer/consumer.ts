// A project that depends on rnnx, type-checked (strict, skipLibCheck false) and run by
// scripts/consumer-test.sh against the packed tarball, as ESM (nodenext) and CommonJS (node16,
// node20). `node consumer.js train DIR`: trains a tiny LSTM on the prebuilt addon, saves it,
// predicts with InferenceModel (checked against the addon's own forward pass) and serves it;
// `node consumer.js no-addon DIR`: with the addon removed, inference and serving still work and
// training throws RNNX_NO_NATIVE with its one-line fix.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Model, lstm, dense, fit, predict, NoNativeError, type History, type FitOptions, type SequenceDataset,
} from 'rnnx';
import {
  InferenceModel, openService, startServer, ProviderUnavailableError, readModelFile,
  type OpenOptions, type ProviderName, type RunResult,
} from 'rnnx/inference';

const N = 32;
const T = 6;

/** Sum of a sequence of ±1 steps: an LSTM learns it in a few epochs. */
function data(): SequenceDataset {
  const x = new Float32Array(N * T);
  const y = new Float32Array(N);
  let s = 12345;
  for (let i = 0; i < N; i++) {
    let sum = 0;
    for (let t = 0; t < T; t++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const v = s / 2147483648 > 0.5 ? 0.5 : -0.5;
      x[i * T + t] = v;
      sum += v;
    }
    y[i] = sum / T;
  }
  return { x, count: N, time: T, features: 1, y, yShape: [N, 1] };
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`consumer check failed: ${what}`);
}

/** InferenceModel, openService and the HTTP server agree on the saved model. */
async function infer(path: string, ds: SequenceDataset): Promise<Float32Array> {
  const providers: ProviderName[] = ['cpu'];
  const options: OpenOptions = { providers, strict: true };
  const im = await InferenceModel.open(path, options);
  let r: RunResult;
  try {
    check(im.provider === 'cpu', `provider cpu, got ${im.provider}`);
    r = await im.run(ds.x, { batch: N, time: T });
    check(r.dims.join() === `${N},1`, `dims [${N}, 1], got ${r.dims.join()}`);
  } finally {
    await im.release();
  }
  // strict CUDA: either it is there (a GPU machine) or the error says why.
  const cuda = await InferenceModel.open(path, { providers: ['cuda'], strict: true }).catch((e: unknown) => e);
  if (cuda instanceof InferenceModel) await cuda.release();
  else check(cuda instanceof ProviderUnavailableError && /required \(strict\)/.test(cuda.message), `strict cuda error, got ${String(cuda)}`);

  const service = await openService(path, { maxBatch: 4 });
  try {
    const one = await service.predict(ds.x.subarray(0, T));
    check(Math.abs(one.y[0] - r.y[0]) < 1e-5, `openService ${one.y[0]} vs InferenceModel ${r.y[0]}`);
  } finally {
    await service.close();
  }
  const server = await startServer({ modelPath: path, port: 0, host: '127.0.0.1' });
  try {
    const input = Array.from(ds.x.subarray(T, 2 * T), (v) => [v]);
    const res = await fetch(`${server.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
    const body = (await res.json()) as { output: number[] };
    check(res.status === 200 && Math.abs(body.output[0] - r.y[1]) < 1e-5, `HTTP /v1/predict ${JSON.stringify(body)} vs ${r.y[1]}`);
  } finally {
    await server.close();
  }
  return r.y;
}

export async function main(mode: string, dir: string): Promise<void> {
  const ds = data();
  const path = join(dir, 'tiny-lstm.onnx');
  if (mode === 'train') {
    const model = Model.create({ inputSize: 1, layers: [lstm({ units: 8 }), dense({ units: 1 })] }, { seed: 3 });
    const options: FitOptions = { epochs: 40, batchSize: 8, optimizer: { type: 'adam', lr: 0.02 }, seed: 1 };
    const history: History = await fit(model, ds, options);
    const first = history.loss[0];
    const last = history.loss[history.loss.length - 1];
    check(last < first / 4, `training loss fell by 4x: ${first} -> ${last}`);
    model.save(path);
    const y = await infer(path, ds);
    // Independent of ONNX Runtime: the addon's own forward pass of the trained weights.
    const ref = predict(model, ds.x, { batch: N, time: T });
    let worst = 0;
    for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(y[i] - ref[i]));
    check(worst < 1e-4, `ONNX Runtime vs addon forward pass, max |diff| ${worst}`);
    // What `rnnx predict` is compared with.
    writeFileSync(join(dir, 'x.json'), JSON.stringify(Array.from({ length: N }, (_, i) => Array.from(ds.x.subarray(i * T, (i + 1) * T), (v) => [v]))));
    writeFileSync(join(dir, 'expected.json'), JSON.stringify(Array.from(y)));
    console.log(`train: loss ${first.toFixed(4)} -> ${last.toFixed(4)}, ONNX Runtime vs addon max |diff| ${worst.toExponential(2)}`);
  } else if (mode === 'no-addon') {
    const y = await infer(path, ds);
    check(readModelFile(path).spec.inputSize === 1, 'readModelFile reads the spec');
    const model = Model.load(path);
    const err = await fit(model, ds, { epochs: 1 }).catch((e: unknown) => e);
    check(err instanceof NoNativeError && err.code === 'RNNX_NO_NATIVE', `training without the addon throws RNNX_NO_NATIVE, got ${String(err)}`);
    const msg = (err as Error).message;
    check(!msg.includes('\n') && msg.includes('npm rebuild rnnx'), `one-line fix in ${JSON.stringify(msg)}`);
    console.log(`no-addon: inference ok (y[0] ${y[0].toFixed(4)}), training: ${msg}`);
  } else {
    throw new Error(`mode must be train or no-addon, got ${JSON.stringify(mode)}`);
  }
}

main(process.argv[2] ?? '', process.argv[3] ?? '.').catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
