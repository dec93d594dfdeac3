// Child of tests/train-hardening.test.ts, run under a thread limit (prlimit --nproc): every entry
// point that starts threads must throw a JavaScript error, never abort. Prints one JSON line.
import { dense, lstm } from '../../src/layers/spec.js';
import { Model } from '../../src/model/model.js';
import { native } from '../../src/native.js';
import { Trainer } from '../../src/train/index.js';

const threads = Number(process.argv[2]);
const model = Model.create({ inputSize: 2, layers: [lstm({ units: 4 }), dense({ units: 1 })] }, { seed: 1 });
const batch = { x: new Float32Array(2 * 3 * 2).fill(0.5), y: new Float32Array(2), batch: 2, time: 3 };
const out: Record<string, string> = {};
const attempt = (name: string, f: () => unknown) => {
  try {
    f();
    out[name] = 'ok';
  } catch (e) {
    const err = e as Error & { code?: string };
    out[name] = `${err.code}: ${err.message}`;
  }
};
attempt('forward', () => native().forward(model.spec, model.layout, model.params, batch, { threads }));
attempt('computeGradients', () => native().computeGradients(model.spec, model.layout, model.params, batch, { loss: { type: 'mse' }, threads }));
attempt('Trainer', () => new Trainer(model, { threads }).dispose());
// After the failures the process still works with one thread.
attempt('after', () => native().forward(model.spec, model.layout, model.params, batch, { threads: 1 }));
process.stdout.write(JSON.stringify(out) + '\n');
