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

describe('the exposition an operator reads', () => {
  it('every rnnx metric with its type and help text, before anything is observed', async () => {
    const r = newRegistry();
    serveMetrics(r);
    const heads = (await r.metrics()).split('\n').filter((l) => l.startsWith('# '));
    expect(heads).toEqual([
      ['rnnx_batch_size', 'histogram', 'Requests merged into one ONNX Runtime run.'],
      ['rnnx_run_duration_seconds', 'histogram', 'Wall time of one batched ONNX Runtime run, padding and splitting included.'],
      ['rnnx_run_errors_total', 'counter', 'ONNX Runtime runs that failed.'],
      ['rnnx_http_requests_total', 'counter', 'HTTP requests by route, method and status.'],
      ['rnnx_http_request_duration_seconds', 'histogram', 'HTTP request latency, body read to response end.'],
      ['rnnx_overload_refusals_total', 'counter', 'Work refused because a limit was reached (queue, bytes, memory budget, streams).'],
      ['rnnx_queue_depth', 'gauge', 'Requests waiting for a run.'],
      ['rnnx_runs_in_flight', 'gauge', 'ONNX Runtime runs in flight.'],
      ['rnnx_streams_open', 'gauge', 'Open stateful streams (in-process ones; client-carried state holds none).'],
      ['rnnx_provider_info', 'gauge', 'Execution provider each session really uses (value 1); fallbacks (value 0) carry the reason.'],
      ['rnnx_http_requests_in_flight', 'gauge', 'HTTP requests being handled.'],
    ].flatMap(([name, type, help]) => [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`]));
  });

  it('batch sizes in powers of two up to 1024; latencies from 0.5 ms to 30 s', async () => {
    const r = newRegistry();
    const m = serveMetrics(r);
    m.batchSize.observe({ model: 'a', kind: 'predict' }, 1);
    m.httpSeconds.observe({ route: '/healthz' }, 1);
    const les = (text: string, name: string) => [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"`, 'gm'))].map((x) => x[1]);
    const text = await r.metrics();
    expect(les(text, 'rnnx_batch_size')).toEqual([...Array.from({ length: 11 }, (_, i) => String(2 ** i)), '+Inf']);
    expect(les(text, 'rnnx_http_request_duration_seconds')).toEqual(['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '+Inf']);
  });

  it('the in-flight gauge sums every live handler, and reads 0 with none', async () => {
    const r = newRegistry();
    const m = serveMetrics(r);
    expect((await r.metrics()).split('\n')).toContain('rnnx_http_requests_in_flight 0');
    const three = () => 3;
    m.httpInFlight.add(three);
    m.httpInFlight.add(() => 4);
    expect((await r.metrics()).split('\n')).toContain('rnnx_http_requests_in_flight 7');
    m.httpInFlight.delete(three);
    expect((await r.metrics()).split('\n')).toContain('rnnx_http_requests_in_flight 4');
  });
});
