// The HTTP boundary of the serving layer as one node:http request handler, `(req, res, next?)`:
// `rnnx serve` listens with it (src/serve/http.ts), and an app mounts it in Express, Fastify,
// Nest or plain node:http. Everything a server under load must get right at the boundary lives
// here: body limits and receive timeouts, a memory budget for requests in progress, bearer-token
// authentication, Host/Origin checks against DNS rebinding and cross-site POSTs, readiness that
// says "not ready" while work is refused for overload, and JSON errors naming what was wrong.
//
// Routes (JSON in and out):
//   Open Inference Protocol v2 (KServe V2 / Triton REST; see v2.ts), errors {"error": "message"}:
//     GET  /v2                                    server metadata
//     GET  /v2/health/live                        200 {"live": true}
//     GET  /v2/health/ready                       200 {"ready": true}, 400 {"ready": false} (draining, overloaded)
//     GET  /v2/models/{name}[/versions/{v}]       model metadata: inputs, outputs, what they mean
//     GET  /v2/models/{name}[/versions/{v}]/ready 200 {"name", "ready": true}
//     POST /v2/models/{name}[/versions/{v}]/infer inference
//   rnnx's own (kept: in-process streams have no counterpart in the protocol), on the first model,
//   errors {"error": {"code", "message"}}:
//     POST   /v1/predict  {"input": [[...]]} | {"inputs": [...]}   POST /v1/streams, /v1/streams/:id,
//     /v1/streams/:id/reset, DELETE /v1/streams/:id, GET /v1/model, /healthz, /readyz, /metrics

import { createHash, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkTimeoutMs, toSequence } from './batcher.js';
import { BadRequestError, OverloadedError, ServeError, ShuttingDownError } from './errors.js';
import { serveMetrics, type Registry } from './metrics.js';
import type { InferenceService } from './service.js';
import { rnnxVersion } from '../graph/export.js';
import { modelMetadata, OIP_VERSION, parseInferRequest } from './v2.js';

export interface HandlerOptions {
  /** Largest request body in bytes; larger bodies get 413. Default 8 MiB. */
  maxBodyBytes?: number;
  /**
   * Most bytes of request bodies being received at once, over all connections; past it new body
   * bytes are refused with 503 overloaded. Default 64 MiB.
   */
  maxBufferedBodyBytes?: number;
  /** A body must arrive whole within this many ms of its request, else 408 (stalled uploads). Default 10000. */
  bodyTimeoutMs?: number;
  /**
   * Process-wide budget (bytes) for requests in progress: each is charged an estimate of what it
   * holds (its body, the parsed JSON, the float32 tensors and its answer: BODY_MEMORY_FACTOR times
   * the body) from its first byte to its answer; past the budget work is refused with 503. Default 512 MiB.
   */
  memoryBudgetBytes?: number;
  /** Bearer token every request but the health probes must carry (compared in constant time). */
  token?: string;
  /**
   * Host names the Host header may carry. 'loopback' (what `rnnx serve` uses on a loopback
   * bind): localhost, 127.0.0.0/8 and ::1 only, and a foreign Origin is refused too. 'any'
   * (default when mounted: the app decides). Or a list of names.
   */
  allowedHosts?: 'loopback' | 'any' | string[];
  /** Registry for the HTTP metrics. Default: the first service's. */
  registry?: Registry;
  /** One JSON object per event (run errors); default none. */
  log?: (event: Record<string, unknown>) => void;
  /**
   * Path prefix the routes live under when the framework passes the full URL (Fastify; Express's
   * app.use(prefix, ...) strips it itself), e.g. '/rnnx'. Default none.
   */
  basePath?: string;
}

/** Bytes of memory a request is charged per body byte: body + JSON text + parsed arrays + tensors. */
export const BODY_MEMORY_FACTOR = 6;

export interface RequestHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** The served models by name; the first is the one /v1 routes use. */
  readonly services: ReadonlyMap<string, InferenceService>;
  /** Requests being handled now. */
  readonly inFlight: number;
  /** Bytes charged to the memory budget now. */
  readonly memoryInUse: number;
  /** False while draining, or while work is being refused for overload. */
  ready(): boolean;
  /** From now on work gets 503 shutting_down (health and metrics still answer). */
  drain(): void;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  /** Stops counting this handler's in-flight requests in the metrics. */
  dispose(): void;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], charge: (bytes: number) => void) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  /** Label for metrics: the pattern, never the raw URL (bounded cardinality). */
  label: string;
  /** health: no auth, answered while draining; meta: answered while draining; work: neither. */
  kind: 'health' | 'meta' | 'work';
  handler: Handler;
}

class HttpError extends ServeError {}

function positive(field: string, v: number | undefined, fallback: number): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${field} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

// Names as hostName() and URL.hostname give them: an IPv6 address always in brackets.
const LOOPBACK_NAMES = new Set(['localhost', '[::1]']);

/** Whether a request has a body (RFC 9112 §6.3: only Transfer-Encoding or a non-zero Content-Length give one). */
function carriesBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && Number(length) !== 0;
}

function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return LOOPBACK_NAMES.has(h) || h.endsWith('.localhost') || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Host header → host name without the port ("[::1]:8080" → "[::1]"). */
function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  return hostHeader.split(':')[0];
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Float32Array with dims [t, F] or [F] → nested number arrays for JSON. */
function nest(y: Float32Array, dims: number[]): number[] | number[][] {
  if (dims.length === 1) return Array.from(y);
  const [t, f] = dims;
  const rows: number[][] = new Array(t);
  for (let i = 0; i < t; i++) rows[i] = Array.from(y.subarray(i * f, (i + 1) * f));
  return rows;
}

/**
 * A node:http handler serving `services` (one, or several with distinct names). With `next`
 * (Express, Connect), a request no route matches is passed on instead of answered 404.
 */
export function createRequestHandler(services: InferenceService | InferenceService[], options: HandlerOptions = {}): RequestHandler {
  const list = Array.isArray(services) ? services : [services];
  if (list.length === 0) throw new Error('createRequestHandler needs at least one service');
  const byName = new Map<string, InferenceService>();
  for (const s of list) {
    if (byName.has(s.name)) throw new Error(`two models are named ${JSON.stringify(s.name)}; give each a distinct name`);
    byName.set(s.name, s);
  }
  const first = list[0];
  const maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes, 8 * 1024 * 1024);
  const maxBufferedBodyBytes = positive('maxBufferedBodyBytes', options.maxBufferedBodyBytes, 64 * 1024 * 1024);
  const bodyTimeoutMs = checkTimeoutMs(options.bodyTimeoutMs ?? 10_000, 'bodyTimeoutMs');
  const memoryBudgetBytes = positive('memoryBudgetBytes', options.memoryBudgetBytes, 512 * 1024 * 1024);
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 16)) {
    throw new Error(`token must be a string of at least 16 characters, got ${typeof options.token === 'string' ? `${options.token.length} characters` : typeof options.token}`);
  }
  const tokenDigest = options.token === undefined ? null : createHash('sha256').update(options.token).digest();
  const allowedHosts = options.allowedHosts ?? 'any';
  // A bare string other than the two keywords would be matched as a substring ('a.example'.includes('a')).
  if (!(allowedHosts === 'any' || allowedHosts === 'loopback' || (Array.isArray(allowedHosts) && allowedHosts.every((h) => typeof h === 'string')))) {
    throw new Error(`allowedHosts must be 'loopback', 'any' or a list of host names, got ${JSON.stringify(allowedHosts)}`);
  }
  // Host names compare in lower case, on both sides (the header's are lowered where they are read).
  const allowedNames = Array.isArray(allowedHosts) ? allowedHosts.map((h) => h.toLowerCase()) : [];
  // Headers are matched without their port, an IPv6 address in brackets: "::1" or "host:8080" would never match.
  const unmatchable = allowedNames.find((h) => h.includes(':') && !/^\[[0-9a-f:.]+\]$/.test(h));
  if (unmatchable !== undefined) throw new Error(`allowedHosts entries are host names without a port (an IPv6 address in brackets, "[::1]"), got ${JSON.stringify(unmatchable)}`);
  const basePath = options.basePath?.replace(/\/+$/, '') ?? '';
  if (basePath !== '' && !basePath.startsWith('/')) throw new Error(`basePath must start with "/", got ${JSON.stringify(options.basePath)}`);
  const log = options.log ?? (() => {});
  const metrics = serveMetrics(options.registry ?? first.registry);

  let draining = false;
  let inFlight = 0;
  let buffered = 0;
  let memoryInUse = 0;
  let lastRefusal = -Infinity;
  let idleWaiters: (() => void)[] = [];
  const inFlightGauge = () => inFlight;
  metrics.httpInFlight.add(inFlightGauge);

  const refused = (reason: string, e: ServeError): ServeError => {
    lastRefusal = performance.now();
    metrics.overloadRefusals.inc({ reason });
    return e;
  };

  const ready = () =>
    !draining &&
    performance.now() - lastRefusal > 1000 &&
    buffered < maxBufferedBodyBytes &&
    memoryInUse < memoryBudgetBytes &&
    list.every((s) => !s.overloaded);

  // ---- body ------------------------------------------------------------------------------

  const readJson = (req: IncomingMessage, charge: (bytes: number) => void): Promise<unknown> => {
    // Mounted behind a body parser (express.json(), Fastify's): the body is already here.
    const pre = (req as IncomingMessage & { body?: unknown }).body;
    if (pre !== undefined && req.readableEnded) return Promise.resolve(typeof pre === 'string' || Buffer.isBuffer(pre) ? parseText(String(pre)) : pre);
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBodyBytes) {
        reject(new HttpError('payload_too_large', 413, `request body is ${declared} bytes, over the limit of ${maxBodyBytes} bytes (maxBodyBytes)`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      const timer = setTimeout(() => {
        fail(new HttpError('request_timeout', 408, `the request body did not arrive within ${bodyTimeoutMs} ms (bodyTimeoutMs); send it whole, without pauses`));
      }, bodyTimeoutMs);
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        buffered -= size;
        chunks.length = 0;
        reject(e);
      };
      req.on('data', (c: Buffer) => {
        if (failed) return; // discard the rest: the error answer is already on its way
        if (size + c.length > maxBodyBytes) {
          fail(new HttpError('payload_too_large', 413, `request body exceeds the limit of ${maxBodyBytes} bytes (maxBodyBytes)`));
          return;
        }
        if (buffered + c.length > maxBufferedBodyBytes) {
          fail(refused('buffered_bodies', new OverloadedError(`overloaded: request bodies being received already hold ${buffered} bytes (maxBufferedBodyBytes ${maxBufferedBodyBytes}); retry later`)));
          return;
        }
        try {
          charge(c.length * BODY_MEMORY_FACTOR);
        } catch (e) {
          fail(e as Error);
          return;
        }
        size += c.length;
        buffered += c.length;
        chunks.push(c);
      });
      req.on('end', () => {
        if (failed) return;
        clearTimeout(timer);
        buffered -= size;
        const text = Buffer.concat(chunks).toString('utf8');
        chunks.length = 0;
        try {
          resolve(parseText(text));
        } catch (e) {
          reject(e);
        }
      });
      // Client went away mid-body: give its bytes back. node:http destroys the request with an
      // 'aborted' error (emitted only to an 'error' listener), then 'close': either way it is the
      // 499 "cancelled", not an internal error.
      const left = (cause?: unknown) => new ServeError('cancelled', 499, 'the client closed the connection before the body was complete', { cause });
      req.on('close', () => {
        if (!failed && !req.complete) fail(left());
      });
      req.on('error', (e) => fail(left(e)));
    });
  };

  const parseText = (text: string): unknown => {
    if (text.trim() === '') throw new BadRequestError('request body must be a JSON object, got an empty body');
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new BadRequestError(`request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const objectBody = async (req: IncomingMessage, charge: (bytes: number) => void): Promise<Record<string, unknown>> => {
    const body = await readJson(req, charge);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new BadRequestError(`request body must be a JSON object, got ${Array.isArray(body) ? 'an array' : JSON.stringify(body)}`);
    }
    return body as Record<string, unknown>;
  };

  const timeoutOf = (body: Record<string, unknown>): number | undefined => (body.timeoutMs === undefined ? undefined : checkTimeoutMs(body.timeoutMs));

  /** Aborts when the client goes away before the answer, so its queued work is dropped. */
  const clientSignal = (res: ServerResponse): AbortController => {
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new Error('client closed the connection'));
    });
    return ac;
  };

  const modelOf = (name: string, version: string | undefined): InferenceService => {
    const decode = (what: string, s: string): string => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new HttpError('not_found', 404, `${what} ${JSON.stringify(s)} is not valid percent-encoding`);
      }
    };
    const decoded = decode('model name', name);
    const svc = byName.get(decoded);
    if (!svc) throw new HttpError('not_found', 404, `no model named ${JSON.stringify(decoded)}; this server has ${[...byName.keys()].map((n) => JSON.stringify(n)).join(', ')}`);
    // A malformed version is a 404 like a malformed name (it was a 500 "URI malformed").
    if (version !== undefined && decode('model version', version) !== svc.version) {
      throw new HttpError('not_found', 404, `model ${JSON.stringify(decoded)} has no version ${JSON.stringify(version)}; it has ${JSON.stringify(svc.version)}`);
    }
    return svc;
  };

  // ---- routes ----------------------------------------------------------------------------

  const M = '/v2/models/([^/]+)(?:/versions/([^/]+))?';
  const routes: Route[] = [
    {
      method: 'GET', pattern: /^\/v2\/?$/, label: '/v2', kind: 'meta',
      handler: async (_req, res) => sendJson(res, 200, { name: 'rnnx', version: rnnxVersion(), extensions: [] }),
    },
    {
      method: 'GET', pattern: /^\/v2\/health\/live$/, label: '/v2/health/live', kind: 'health',
      handler: async (_req, res) => sendJson(res, 200, { live: true }),
    },
    {
      method: 'GET', pattern: /^\/v2\/health\/ready$/, label: '/v2/health/ready', kind: 'health',
      // The protocol: 200 means ready, a 4xx not ready (Triton answers 400).
      handler: async (_req, res) => sendJson(res, ready() ? 200 : 400, { ready: ready() }),
    },
    {
      method: 'GET', pattern: new RegExp(`^${M}/ready$`), label: '/v2/models/:name/ready', kind: 'health',
      handler: async (_req, res, [name, version]) => {
        const svc = modelOf(name, version);
        const ok = !draining && !svc.overloaded;
        sendJson(res, ok ? 200 : 400, { name: svc.name, ready: ok });
      },
    },
    {
      method: 'GET', pattern: new RegExp(`^${M}$`), label: '/v2/models/:name', kind: 'meta',
      handler: async (_req, res, [name, version]) => sendJson(res, 200, modelMetadata(modelOf(name, version))),
    },
    {
      method: 'POST', pattern: new RegExp(`^${M}/infer$`), label: '/v2/models/:name/infer', kind: 'work',
      handler: async (req, res, [name, version], charge) => {
        const svc = modelOf(name, version);
        const body = await objectBody(req, charge);
        const r = parseInferRequest(body, svc);
        const ac = clientSignal(res);
        const opts = { signal: ac.signal, timeoutMs: r.timeoutMs, raw: r.raw };
        const base = { model_name: svc.name, model_version: svc.version, ...(r.id !== undefined ? { id: r.id } : {}) };
        if (r.streamState !== undefined) {
          const s = await svc.step(r.sequences[0], r.streamState, opts);
          sendJson(res, 200, {
            ...base,
            parameters: { stream_state: s.token, stream_steps: s.steps },
            outputs: [{ name: 'y', datatype: 'FP32', shape: [1, ...s.dims], data: Array.from(s.y) }],
          });
          return;
        }
        setMaxListeners(r.sequences.length + 10, ac.signal);
        let results;
        try {
          results = await Promise.all(r.sequences.map((x) => svc.predict(x, opts)));
        } catch (e) {
          ac.abort(e);
          throw e;
        }
        // Rows of different lengths (sequence_lens) are padded with zeros to the longest, as ORT pads.
        const dims = results[0].dims.slice();
        if (dims.length === 2) dims[0] = Math.max(...results.map((x) => x.dims[0]));
        const per = dims.reduce((a, b) => a * b, 1);
        const data = new Array<number>(results.length * per).fill(0);
        results.forEach((x, b) => {
          for (let i = 0; i < x.y.length; i++) data[b * per + i] = x.y[i];
        });
        sendJson(res, 200, { ...base, outputs: [{ name: 'y', datatype: 'FP32', shape: [results.length, ...dims], data }] });
      },
    },
    {
      method: 'POST', pattern: /^\/v1\/predict$/, label: '/v1/predict', kind: 'work',
      handler: async (req, res, _p, charge) => {
        const svc = first;
        const body = await objectBody(req, charge);
        const timeoutMs = timeoutOf(body);
        const ac = clientSignal(res);
        const inputSize = svc.batcher.info.inputSize;
        const maxTime = svc.batcher.maxTime;
        if (body.raw !== undefined && typeof body.raw !== 'boolean') throw new BadRequestError(`raw must be true or false, got ${JSON.stringify(body.raw)}`);
        const raw = body.raw === true;
        if (body.input !== undefined && body.inputs !== undefined) throw new BadRequestError('give either "input" (one sequence) or "inputs" (a list of sequences), not both');
        if (body.input !== undefined) {
          const seq = toSequence(body.input, inputSize, maxTime, 'input');
          const r = await svc.predict(seq.data, { signal: ac.signal, timeoutMs, raw });
          sendJson(res, 200, { output: nest(r.y, r.dims), dims: r.dims });
          return;
        }
        if (body.inputs !== undefined) {
          if (!Array.isArray(body.inputs) || body.inputs.length === 0) {
            throw new BadRequestError(`inputs must be a non-empty array of sequences ([batch][time][${inputSize}]), got ${Array.isArray(body.inputs) ? 'an empty array' : JSON.stringify(body.inputs)?.slice(0, 60)}`);
          }
          // More sequences than the queue can ever hold would be half-run, then refused as
          // "retry later", which can never succeed: refuse them as a bad request up front.
          const { maxQueue, maxQueueBytes } = svc.batcher;
          if (body.inputs.length > maxQueue) {
            throw new BadRequestError(`inputs must hold at most ${maxQueue} sequences (maxQueue, the most requests that can wait), got ${body.inputs.length}; split them over several requests`);
          }
          // Check every sequence before any is queued, so a bad one costs no run.
          const seqs = body.inputs.map((s, i) => toSequence(s, inputSize, maxTime, `inputs[${i}]`));
          const bytes = seqs.reduce((n, s) => n + s.data.byteLength, 0);
          if (bytes > maxQueueBytes) {
            throw new BadRequestError(`inputs hold ${bytes} bytes of float32 values, more than the queue may ever hold (maxQueueBytes ${maxQueueBytes}); split them over several requests`);
          }
          setMaxListeners(seqs.length + 10, ac.signal);
          // Each sequence is its own batcher request (they merge with everyone else's); the first
          // failure cancels the rest.
          try {
            const rs = await Promise.all(seqs.map((s) => svc.predict(s.data, { signal: ac.signal, timeoutMs, raw })));
            sendJson(res, 200, { outputs: rs.map((r) => ({ output: nest(r.y, r.dims), dims: r.dims })) });
          } catch (e) {
            ac.abort(e);
            throw e;
          }
          return;
        }
        throw new BadRequestError(`request body must have "input" (one sequence, [time][${inputSize}]) or "inputs" (a list of them)`);
      },
    },
    {
      method: 'POST', pattern: /^\/v1\/streams$/, label: '/v1/streams', kind: 'work',
      handler: async (_req, res) => {
        const s = first.openStream();
        sendJson(res, 201, { id: s.id });
      },
    },
    {
      method: 'POST', pattern: /^\/v1\/streams\/([^/]+)$/, label: '/v1/streams/:id', kind: 'work',
      handler: async (req, res, [id], charge) => {
        const stream = streamOf(id);
        const body = await objectBody(req, charge);
        const timeoutMs = timeoutOf(body);
        const inputSize = first.batcher.info.inputSize;
        if (body.input === undefined) throw new BadRequestError(`request body must have "input": the next chunk, [time][${inputSize}]`);
        const seq = toSequence(body.input, inputSize, first.batcher.maxTime, 'input');
        const ac = clientSignal(res);
        const r = await stream.append(seq.data, { signal: ac.signal, timeoutMs });
        const bad = r.y.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) throw new ServeError('run_failed', 500, `the model produced a non-finite output (${r.y[bad]} at y[${bad}]); the answer is withheld`);
        sendJson(res, 200, { output: nest(r.y, r.dims), dims: r.dims, steps: stream.steps });
      },
    },
    {
      method: 'POST', pattern: /^\/v1\/streams\/([^/]+)\/reset$/, label: '/v1/streams/:id/reset', kind: 'work',
      handler: async (_req, res, [id]) => {
        streamOf(id).reset();
        sendJson(res, 200, { id, steps: 0 });
      },
    },
    {
      method: 'DELETE', pattern: /^\/v1\/streams\/([^/]+)$/, label: '/v1/streams/:id', kind: 'work',
      handler: async (_req, res, [id]) => {
        streamOf(id).close();
        sendJson(res, 200, { id, closed: true });
      },
    },
    {
      method: 'GET', pattern: /^\/v1\/model$/, label: '/v1/model', kind: 'meta',
      handler: async (_req, res) => {
        const svc = first;
        const e = svc.engine;
        sendJson(res, 200, {
          name: svc.name,
          spec: e.spec,
          provider: e.provider,
          fallbacks: e.fallbacks,
          workers: e.workers,
          inputSize: svc.batcher.info.inputSize,
          outputSize: svc.batcher.info.outputSize,
          returnsSequences: svc.batcher.info.returnsSequences,
          units: svc.units,
          streaming: svc.streamUnsupported === null ? true : { supported: false, reason: svc.streamUnsupported },
          limits: {
            maxBatch: svc.batcher.maxBatch, maxWaitMs: svc.batcher.maxWaitMs, maxQueue: svc.batcher.maxQueue,
            timeoutMs: svc.batcher.timeoutMs, maxTime: svc.batcher.maxTime, maxBodyBytes, maxBatchBytes: svc.batcher.maxBatchBytes,
            bodyTimeoutMs, memoryBudgetBytes,
          },
        });
      },
    },
    {
      method: 'GET', pattern: /^\/healthz$/, label: '/healthz', kind: 'health',
      handler: async (_req, res) => sendJson(res, 200, { status: 'ok' }),
    },
    {
      method: 'GET', pattern: /^\/readyz$/, label: '/readyz', kind: 'health',
      handler: async (_req, res) => {
        if (draining) sendJson(res, 503, { status: 'draining' });
        else if (!ready()) sendJson(res, 503, { status: 'overloaded' });
        else sendJson(res, 200, { status: 'ready', provider: first.provider });
      },
    },
    {
      method: 'GET', pattern: /^\/metrics$/, label: '/metrics', kind: 'meta',
      handler: async (_req, res) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  ];

  const streamOf = (id: string) => {
    if (!first.streams) throw new ServeError('stream_unsupported', 400, first.streamUnsupported ?? 'this model cannot stream');
    let decoded: string;
    try {
      decoded = decodeURIComponent(id);
    } catch {
      throw new BadRequestError(`stream id ${JSON.stringify(id)} is not valid percent-encoding (expected an id returned by POST /v1/streams)`);
    }
    return first.streams.get(decoded);
  };

  // ---- checks at the door ------------------------------------------------------------------

  const checkHostAndOrigin = (req: IncomingMessage): void => {
    if (allowedHosts === 'any') return;
    const ok = (h: string) => (allowedHosts === 'loopback' ? isLoopbackName(h) : allowedNames.includes(h.toLowerCase()));
    const host = req.headers.host;
    if (!host || !ok(hostName(host))) {
      throw new HttpError('forbidden', 403, `Host ${JSON.stringify(host ?? '')} is not allowed: this server answers only ${allowedHosts === 'loopback' ? 'loopback names (localhost, 127.0.0.1, [::1])' : allowedHosts.join(', ')} (protection against DNS rebinding)`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let oh: string;
      try {
        oh = new URL(origin).hostname;
      } catch {
        throw new HttpError('forbidden', 403, `Origin ${JSON.stringify(origin)} is not a valid origin`);
      }
      // URL's hostname brackets an IPv6 address ("[::1]") as a Host header does; no other hostname has a ':'.
      if (!ok(oh)) {
        throw new HttpError('forbidden', 403, `Origin ${JSON.stringify(origin)} is not allowed: cross-site requests from web pages are refused`);
      }
    } else if (origin === 'null') {
      throw new HttpError('forbidden', 403, 'Origin "null" (a sandboxed or file: page) is not allowed');
    }
  };

  const checkAuth = (req: IncomingMessage, res: ServerResponse): void => {
    if (!tokenDigest) return;
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    // Both sides hashed to 32 bytes: timingSafeEqual needs equal lengths and the length leaks nothing.
    if (!m || !timingSafeEqual(createHash('sha256').update(m[1]).digest(), tokenDigest)) {
      res.setHeader('www-authenticate', 'Bearer realm="rnnx"');
      throw new HttpError('unauthorized', 401, m ? 'the bearer token is not valid' : 'this server needs "Authorization: Bearer <token>"');
    }
  };

  const checkContentType = (req: IncomingMessage): void => {
    const ct = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    // Web forms and text/plain are what a page may POST cross-site without a preflight: refused.
    if (ct !== '' && ct !== 'application/json' && !ct.endsWith('+json')) {
      throw new HttpError('unsupported_media_type', 415, `content-type must be application/json, got ${JSON.stringify(ct)}`);
    }
  };

  // ---- the handler -------------------------------------------------------------------------

  const handle = async (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): Promise<void> => {
    const started = performance.now();
    const urlPath = (req.url ?? '/').split('?')[0];
    let path = urlPath;
    // Outside the base path: '\0', which no route matches.
    if (basePath) path = path === basePath ? '/' : path.startsWith(`${basePath}/`) ? path.slice(basePath.length) : '\0';
    const method = req.method ?? 'GET';
    const candidates = routes.filter((r) => r.pattern.test(path));
    if (candidates.length === 0 && next) {
      next();
      return;
    }
    let label = 'unmatched';
    // Errors under /v2 take the protocol's form {"error": "message"}, all others rnnx's
    // {"error": {code, message}}: decided by the path alone, so an unknown /v2/... path, a 405 and
    // a refusal at the door answer as the routes there do.
    const v2 = path === '/v2' || path.startsWith('/v2/');
    let charged = 0;
    const charge = (bytes: number) => {
      if (memoryInUse + bytes > memoryBudgetBytes) {
        throw refused('memory_budget', new OverloadedError(`overloaded: requests in progress hold about ${memoryInUse} bytes (memoryBudgetBytes ${memoryBudgetBytes}); retry later`));
      }
      memoryInUse += bytes;
      charged += bytes;
    };
    inFlight++;
    try {
      // HEAD is GET without the body (node:http drops the body of a HEAD answer itself).
      const route = candidates.find((r) => r.method === method || (method === 'HEAD' && r.method === 'GET'));
      if (candidates.length > 0) label = candidates[0].label;
      checkHostAndOrigin(req);
      if (!route) {
        if (candidates.length > 0) {
          const allowed = [...new Set(candidates.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method])))];
          res.setHeader('allow', allowed.join(', '));
          throw new HttpError('method_not_allowed', 405, `${method} is not allowed on ${path}; use ${allowed.join(' or ')}`);
        }
        throw new HttpError('not_found', 404, path === '\0' ? `no route ${method} ${urlPath}: the routes live under ${basePath}` : `no route ${method} ${path}`);
      }
      label = route.label;
      if (route.kind !== 'health') checkAuth(req, res);
      // Health and metadata stay answerable while draining; work does not.
      if (draining && route.kind === 'work') {
        res.setHeader('connection', 'close');
        throw new ShuttingDownError('the server is shutting down and accepts no new requests');
      }
      if (route.method === 'POST') checkContentType(req);
      const params = path.match(route.pattern)!.slice(1);
      await route.handler(req, res, params, charge);
    } catch (e) {
      const err = e instanceof ServeError ? e : new ServeError('run_failed', 500, `internal error: ${e instanceof Error ? e.message : String(e)}`);
      if (err.code === 'overloaded') lastRefusal = performance.now();
      if (err.status >= 500 && err.status !== 503) log({ event: 'error', route: label, status: err.status, message: err.message });
      // Only a request that carries a body can leave one unread: a GET answered 404 keeps its
      // connection even though node has not marked it complete yet.
      const bodyUnread = !req.complete && carriesBody(req);
      if (bodyUnread) {
        // The rest of the body is not read (413, 408, 503): close the connection once the answer is out.
        res.setHeader('connection', 'close');
      }
      if (!res.headersSent && !res.destroyed) {
        sendJson(res, err.status, v2 ? { error: err.message } : { error: { code: err.code, message: err.message } });
      }
      if (bodyUnread) {
        if (err.code === 'request_timeout') res.once('finish', () => req.socket?.destroy());
        else req.resume();
      }
    } finally {
      memoryInUse -= charged;
      // No answer written, or the client left before it was flushed: the de-facto "client
      // closed request" 499, not the 200 statusCode defaults to.
      const aborted = !res.writableEnded || (res.destroyed && !res.writableFinished);
      metrics.httpRequests.inc({ route: label, method, status: aborted ? '499' : String(res.statusCode) });
      metrics.httpSeconds.observe({ route: label }, (performance.now() - started) / 1000);
      inFlight--;
      if (inFlight === 0) {
        const w = idleWaiters;
        idleWaiters = [];
        for (const f of w) f();
      }
    }
  };

  const fn = ((req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => {
    void handle(req, res, next);
  }) as RequestHandler;
  Object.defineProperties(fn, {
    services: { value: byName },
    inFlight: { get: () => inFlight },
    memoryInUse: { get: () => memoryInUse },
  });
  fn.ready = ready;
  fn.drain = () => {
    draining = true;
  };
  fn.idle = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)));
  fn.dispose = () => {
    metrics.httpInFlight.delete(inFlightGauge);
  };
  return fn;
}
