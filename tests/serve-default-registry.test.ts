// Which prom-client registry startServer fills, in a file of its own so that prom-client's global
// registry starts empty: a server given a registry leaves the global one alone (no process
// metrics added there), and a server given none uses the global one, default process metrics
// included, and serves it at /metrics.

import client from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { gru } from '../src/layers/spec.js';
import { startServer } from '../src/serve/http.js';
import { newRegistry } from '../src/serve/metrics.js';
import { makeModel, tempDir } from './serve-helpers.js';

const tmp = tempDir('rnnx-default-registry-');
afterAll(() => tmp.cleanup());

describe('the registry of startServer', () => {
  it('its own when given (the global one untouched); else the global one, with the process metrics', async () => {
    const { path } = makeModel(tmp.dir, 'reg', 2, [gru({ units: 2 })], 12);
    const opts = { modelPath: path, port: 0, workers: 0, intraOpNumThreads: 1, handleSignals: false, log: false as const };
    expect(await client.register.metrics()).toBe('\n');
    const own = newRegistry();
    const a = await startServer({ ...opts, registry: own });
    try {
      expect(a.registry).toBe(own);
      expect(await client.register.metrics()).not.toMatch(/process_cpu_user_seconds_total/);
      expect(await own.metrics()).not.toMatch(/process_cpu_user_seconds_total/);
      expect(await own.metrics()).toMatch(/^# TYPE rnnx_http_requests_total counter/m);
    } finally {
      await a.close();
    }
    const b = await startServer(opts);
    try {
      expect(b.registry).toBe(client.register);
      const text = await (await fetch(`${b.url}/metrics`)).text();
      expect(text).toMatch(/^process_cpu_user_seconds_total /m);
      expect(text).toMatch(/^# TYPE rnnx_http_requests_total counter/m);
    } finally {
      await b.close();
    }
  });
});
