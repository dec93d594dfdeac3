// One worker of the pool: opens its own InferenceModel per graph and runs the batches the main
// thread sends, one at a time. Started by engine.ts; not an entry point of its own.

import { parentPort, workerData } from 'node:worker_threads';
import { InferenceModel } from '../runtime/inference.js';
import { runOn, type FromWorker, type ToWorker, type WorkerInit } from './engine.js';

const port = parentPort;
if (!port) throw new Error('src/serve/worker.ts must run as a worker thread (started by the serve engine)');
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

try {
  const predict = await InferenceModel.open(init.predict.bytes, init.session);
  const stream = init.stream ? await InferenceModel.open(init.stream.bytes, init.session) : null;
  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      void Promise.all([predict.release(), stream?.release()]).finally(() => port.close());
      return;
    }
    const model = m.graph === 'predict' ? predict : stream;
    const info = m.graph === 'predict' ? init.predict.info : init.stream?.info;
    if (!model || !info) {
      post({ type: 'error', id: m.id, message: `this worker has no ${m.graph} graph` });
      return;
    }
    runOn(model, info, m.req).then(
      (result) => post({ type: 'result', id: m.id, result }),
      (e: unknown) => post({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) }),
    );
  });
  post({ type: 'ready', provider: predict.provider, fallbacks: predict.fallbacks.map((f) => ({ provider: f.provider, reason: f.reason })) });
} catch (e) {
  post({ type: 'init-error', message: e instanceof Error ? e.message : String(e) });
}
