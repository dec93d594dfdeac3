// rnnx's Prometheus metrics, on prom-client, in the registry the caller passes (default:
// prom-client's global registry), so an app's own /metrics already includes them. One set of
// metric objects per registry, labelled by model: several services (and several handlers) in one
// process share it instead of registering the same names twice.

import client, { type Registry } from 'prom-client';

export type { Registry };

/** What the gauges read from each live service at scrape time. */
export interface MetricsSource {
  name: string;
  /** [kind, queue depth, runs in flight] per batcher ('predict', 'stream'). */
  batchers(): [kind: string, queueDepth: number, inFlight: number][];
  streamsOpen(): number;
  provider: { provider: string; requested: string; workers: string; fallbacks: { provider: string; reason: string }[] };
}

export interface ServeMetrics {
  registry: Registry;
  batchSize: client.Histogram<'model' | 'kind'>;
  runSeconds: client.Histogram<'model' | 'kind'>;
  runErrors: client.Counter<'model' | 'kind'>;
  httpRequests: client.Counter<'route' | 'method' | 'status'>;
  httpSeconds: client.Histogram<'route'>;
  overloadRefusals: client.Counter<'reason'>;
  /** Live services (added on open, removed on close). */
  sources: Set<MetricsSource>;
  /** Live HTTP handlers' in-flight counters. */
  httpInFlight: Set<() => number>;
}

/** Batch-size buckets: powers of two up to 1024. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** Seconds, 0.5 ms to 30 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const perRegistry = new WeakMap<Registry, ServeMetrics>();

/** The rnnx metric set of `registry` (created and registered on first use). */
export function serveMetrics(registry: Registry = client.register): ServeMetrics {
  const known = perRegistry.get(registry);
  if (known) return known;
  const sources = new Set<MetricsSource>();
  const httpInFlight = new Set<() => number>();
  const registers = [registry];
  const m: ServeMetrics = {
    registry,
    sources,
    httpInFlight,
    batchSize: new client.Histogram({ name: 'rnnx_batch_size', help: 'Requests merged into one ONNX Runtime run.', labelNames: ['model', 'kind'], buckets: BATCH_BUCKETS, registers }),
    runSeconds: new client.Histogram({ name: 'rnnx_run_duration_seconds', help: 'Wall time of one batched ONNX Runtime run, padding and splitting included.', labelNames: ['model', 'kind'], buckets: LATENCY_BUCKETS, registers }),
    runErrors: new client.Counter({ name: 'rnnx_run_errors_total', help: 'ONNX Runtime runs that failed.', labelNames: ['model', 'kind'], registers }),
    httpRequests: new client.Counter({ name: 'rnnx_http_requests_total', help: 'HTTP requests by route, method and status.', labelNames: ['route', 'method', 'status'], registers }),
    httpSeconds: new client.Histogram({ name: 'rnnx_http_request_duration_seconds', help: 'HTTP request latency, body read to response end.', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers }),
    overloadRefusals: new client.Counter({ name: 'rnnx_overload_refusals_total', help: 'Work refused because a limit was reached (queue, bytes, memory budget, streams).', labelNames: ['reason'], registers }),
  };
  new client.Gauge({
    name: 'rnnx_queue_depth', help: 'Requests waiting for a run.', labelNames: ['model', 'kind'], registers,
    collect() {
      this.reset();
      for (const s of sources) for (const [kind, depth] of s.batchers()) this.set({ model: s.name, kind }, depth);
    },
  });
  new client.Gauge({
    name: 'rnnx_runs_in_flight', help: 'ONNX Runtime runs in flight.', labelNames: ['model', 'kind'], registers,
    collect() {
      this.reset();
      for (const s of sources) for (const [kind, , n] of s.batchers()) this.set({ model: s.name, kind }, n);
    },
  });
  new client.Gauge({
    name: 'rnnx_streams_open', help: 'Open stateful streams (in-process ones; client-carried state holds none).', labelNames: ['model'], registers,
    collect() {
      this.reset();
      for (const s of sources) this.set({ model: s.name }, s.streamsOpen());
    },
  });
  new client.Gauge({
    name: 'rnnx_provider_info', help: 'Execution provider each session really uses (value 1); fallbacks (value 0) carry the reason.',
    labelNames: ['model', 'provider', 'requested', 'workers', 'reason'], registers,
    collect() {
      this.reset();
      for (const s of sources) {
        const p = s.provider;
        this.set({ model: s.name, provider: p.provider, requested: p.requested, workers: p.workers, reason: '' }, 1);
        for (const f of p.fallbacks) this.set({ model: s.name, provider: f.provider, requested: '', workers: '', reason: f.reason }, 0);
      }
    },
  });
  new client.Gauge({
    name: 'rnnx_http_requests_in_flight', help: 'HTTP requests being handled.', registers,
    collect() {
      let n = 0;
      for (const f of httpInFlight) n += f();
      this.set(n);
    },
  });
  perRegistry.set(registry, m);
  return m;
}

/** A fresh registry (for tests and embedders that keep rnnx's metrics apart). */
export function newRegistry(): Registry {
  return new client.Registry();
}

/** Adds prom-client's default process and Node.js metrics to `registry`, once. */
const withDefaults = new WeakSet<Registry>();
export function addDefaultMetrics(registry: Registry = client.register): void {
  if (withDefaults.has(registry)) return;
  withDefaults.add(registry);
  client.collectDefaultMetrics({ register: registry });
}
