// rnnx's Prometheus metrics (src/serve/metrics.ts) read from stand-in sources: one metric set per
// registry, the gauges' values at scrape time (queue depth, runs in flight, open streams, the
// provider and its fallbacks, HTTP requests in flight), the buckets, and default metrics added once.

import { describe, expect, it } from 'vitest';
import { addDefaultMetrics, LATENCY_BUCKETS, newRegistry, serveMetrics, type MetricsSource } from '../src/serve/metrics.js';

const source = (name: string, depth: number, inFlight: number, streams: number): MetricsSource => ({
  name,
  batchers: () => [['predict', depth, inFlight], ['stream', depth + 10, inFlight + 1]],
  streamsOpen: () => streams,
  provider: { provider: 'cpu', requested: 'cuda,cpu', workers: '2', fallbacks: [{ provider: 'cuda', reason: 'no GPU' }] },
});

describe('serve metrics', () => {
  it('one set per registry; a fresh registry gets its own', () => {
    const r = newRegistry();
    const m = serveMetrics(r);
    expect(serveMetrics(r)).toBe(m);
    expect(m.registry).toBe(r);
    const other = serveMetrics(newRegistry());
    expect(other).not.toBe(m);
    expect(other.sources).not.toBe(m.sources);
  });

  it('gauges read every live source at scrape time, and forget removed ones', async () => {
    const r = newRegistry();
    const m = serveMetrics(r);
    const a = source('a', 3, 1, 4);
    m.sources.add(a);
    m.sources.add(source('b', 0, 0, 0));
    m.httpInFlight.add(() => 2);
    m.httpInFlight.add(() => 5);
    const text = await r.metrics();
    for (const line of [
      'rnnx_queue_depth{model="a",kind="predict"} 3',
      'rnnx_queue_depth{model="a",kind="stream"} 13',
      'rnnx_queue_depth{model="b",kind="predict"} 0',
      'rnnx_runs_in_flight{model="a",kind="predict"} 1',
      'rnnx_runs_in_flight{model="a",kind="stream"} 2',
      'rnnx_streams_open{model="a"} 4',
      'rnnx_streams_open{model="b"} 0',
      'rnnx_provider_info{model="a",provider="cpu",requested="cuda,cpu",workers="2",reason=""} 1',
      'rnnx_provider_info{model="a",provider="cuda",requested="",workers="",reason="no GPU"} 0',
      'rnnx_http_requests_in_flight 7',
    ]) expect(text.split('\n'), line).toContain(line);
    m.sources.delete(a);
    const after = await r.metrics();
    expect(after).not.toMatch(/model="a"/);
    expect(after).toMatch(/rnnx_streams_open\{model="b"\} 0/);
  });

  it('histograms and counters with their labels and buckets', async () => {
    const r = newRegistry();
    const m = serveMetrics(r);
    m.batchSize.observe({ model: 'a', kind: 'predict' }, 5);
    m.runSeconds.observe({ model: 'a', kind: 'predict' }, 0.003);
    m.runErrors.inc({ model: 'a', kind: 'stream' });
    m.httpRequests.inc({ route: '/v1/predict', method: 'POST', status: '200' });
    m.httpSeconds.observe({ route: '/v1/predict' }, 0.2);
    m.overloadRefusals.inc({ reason: 'memory_budget' });
    const text = await r.metrics();
    for (const line of [
      'rnnx_batch_size_bucket{le="4",model="a",kind="predict"} 0',
      'rnnx_batch_size_bucket{le="8",model="a",kind="predict"} 1',
      'rnnx_batch_size_bucket{le="1024",model="a",kind="predict"} 1',
      'rnnx_run_duration_seconds_bucket{le="0.0025",model="a",kind="predict"} 0',
      'rnnx_run_duration_seconds_bucket{le="0.005",model="a",kind="predict"} 1',
      'rnnx_run_errors_total{model="a",kind="stream"} 1',
      'rnnx_http_requests_total{route="/v1/predict",method="POST",status="200"} 1',
      'rnnx_http_request_duration_seconds_bucket{le="0.25",route="/v1/predict"} 1',
      'rnnx_http_request_duration_seconds_bucket{le="0.1",route="/v1/predict"} 0',
      'rnnx_overload_refusals_total{reason="memory_budget"} 1',
    ]) expect(text.split('\n'), line).toContain(line);
    expect(LATENCY_BUCKETS[0]).toBe(0.0005);
    expect(LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1]).toBe(30);
  });

  it('default process metrics are added once per registry', async () => {
    const r = newRegistry();
    addDefaultMetrics(r);
    addDefaultMetrics(r); // a second call would throw on registering the same names twice
    expect(await r.metrics()).toMatch(/process_cpu_user_seconds_total/);
    expect(await newRegistry().metrics()).not.toMatch(/process_cpu/);
  });
});
