// The HTTP front of the serving layer, on node:http (no framework: the API is a handful of
// JSON routes, and node:http gives direct control over body limits, keep-alive connections
// and draining, which is most of what a server under load has to get right).
//
// Routes (JSON in and out; errors are {"error": {"code", "message"}}):
//   POST   /v1/predict              {"input": [[...I]...T]}            → {"output", "dims"}
//                                   {"inputs": [seq, seq, ...]}       → {"outputs": [{"output", "dims"}...]}
//   POST   /v1/streams              open a stream                     → 201 {"id"}
//   POST   /v1/streams/:id          {"input": chunk} append           → {"output", "dims", "steps"}
//   POST   /v1/streams/:id/reset    back to the zero state
//   DELETE /v1/streams/:id          close
//   GET    /v1/model                spec, provider, fallbacks, limits
//   GET    /healthz                 the process is up
//   GET    /readyz                  the model is loaded and the server is not draining (else 503)
//   GET    /metrics                 Prometheus text format

import { setMaxListeners } from 'node:events';
import { createServer, maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { checkTimeoutMs, toSequence } from './batcher.js';
import { BadRequestError, OverloadedError, ServeError, ShuttingDownError } from './errors.js';
import { Counter, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE, Registry } from './metrics.js';
import { InferenceService, LATENCY_BUCKETS, type ServiceOptions } from './service.js';

export interface ServerOptions extends ServiceOptions {
  /** The .onnx file to serve (an rnnx export, or any graph following the x/y naming convention). */
  modelPath: string;
  /** TCP port; 0 picks a free one (see `RunningServer.port`). Default 8080. */
  port?: number;
  /** Interface to listen on. Default '127.0.0.1' (loopback only). */
  host?: string;
  /** Largest request body in bytes; larger bodies get 413. Default 8 MiB. */
  maxBodyBytes?: number;
  /**
   * Most bytes of request bodies being received at once, over all connections; past it new body
   * bytes are refused with 503 overloaded (bounds memory however many clients connect). Default 256 MiB.
   */
  maxBufferedBodyBytes?: number;
  /** Most time (ms) a graceful shutdown waits for in-flight requests before cutting connections. Default 30000. */
  drainTimeoutMs?: number;
  /**
   * Install SIGTERM/SIGINT handlers that drain and then exit the process with code 0 (what
   * `rnnx serve` wants). Default true; embedders that manage signals themselves pass false.
   */
  handleSignals?: boolean;
  /** One JSON object per event (start, shutdown, run errors); default writes a line to stderr; false silences. */
  log?: ((event: Record<string, unknown>) => void) | false;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  host: string;
  port: number;
  service: InferenceService;
  registry: Registry;
  /** Drains in-flight requests (new ones get 503), then releases the model. Idempotent. */
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  /** Label for metrics: the pattern, never the raw URL (bounded cardinality). */
  label: string;
  handler: Handler;
}

class HttpError extends ServeError {}

function defaultLog(event: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
}

// Servers started with handleSignals: one process-wide handler drains all of them, then exits 0.
const signalServers = new Set<RunningServer>();
let signalHandler: ((signal: NodeJS.Signals) => void) | null = null;

const drainDeadlines = new WeakMap<RunningServer, number>();

function installSignals(server: RunningServer, log: (e: Record<string, unknown>) => void, drainTimeoutMs: number): void {
  signalServers.add(server);
  drainDeadlines.set(server, drainTimeoutMs);
  if (signalHandler) return;
  let shuttingDown = false;
  signalHandler = (signal) => {
    if (shuttingDown) {
      // A second signal means "now": skip the rest of the drain.
      log({ event: 'signal', signal, action: 'exit without finishing the drain' });
      process.exit(1);
    }
    shuttingDown = true;
    log({ event: 'signal', signal, action: 'draining' });
    // Past every server's drain deadline something is stuck (a run that never returns): leave anyway.
    const deadline = Math.max(...[...signalServers].map((s) => drainDeadlines.get(s) ?? 30_000)) + 10_000;
    setTimeout(() => {
      log({ event: 'exit', code: 1, reason: `drain did not finish within ${deadline} ms` });
      process.exit(1);
    }, deadline).unref();
    Promise.all([...signalServers].map((s) => s.close()))
      .then(() => {
        log({ event: 'exit', code: 0 });
        process.exit(0);
      })
      .catch((e: unknown) => {
        log({ event: 'exit', code: 1, error: e instanceof Error ? e.message : String(e) });
        process.exit(1);
      });
  };
  process.on('SIGTERM', signalHandler);
  process.on('SIGINT', signalHandler);
}

function uninstallSignals(server: RunningServer): void {
  signalServers.delete(server);
  if (signalServers.size === 0 && signalHandler) {
    process.off('SIGTERM', signalHandler);
    process.off('SIGINT', signalHandler);
    signalHandler = null;
  }
}

/** Loads the model, starts batching and listens. Resolves once the port is bound. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  if (typeof options.modelPath !== 'string' || options.modelPath === '') {
    throw new Error(`modelPath must be a path to an .onnx file, got ${JSON.stringify(options.modelPath)}`);
  }
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port must be an integer in [0, 65535], got ${port}`);
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes <= 0) throw new Error(`maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  const maxBufferedBodyBytes = options.maxBufferedBodyBytes ?? 256 * 1024 * 1024;
  if (!Number.isInteger(maxBufferedBodyBytes) || maxBufferedBodyBytes <= 0) throw new Error(`maxBufferedBodyBytes must be a positive integer, got ${maxBufferedBodyBytes}`);
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const log = options.log === false ? () => {} : options.log ?? defaultLog;

  const registry = options.registry ?? new Registry();
  const service = await InferenceService.open(options.modelPath, { ...options, registry });
  const requests = registry.add(new Counter('rnnx_http_requests_total', 'HTTP requests by route, method and status.'));
  const latency = registry.add(new Histogram('rnnx_http_request_duration_seconds', 'HTTP request latency, body read to response end.', LATENCY_BUCKETS));
  registry.add(new Gauge('rnnx_http_requests_in_flight', 'HTTP requests being handled.', (g) => g.set(inFlight)));

  let draining = false;
  let inFlight = 0;
  /** Body bytes held by requests still being received, all connections together. */
  let buffered = 0;
  let idleResolve: (() => void) | null = null;
  const maxTime = service.batcher.maxTime;
  const inputSize = service.batcher.info.inputSize;

  const readJson = (req: IncomingMessage): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBodyBytes) {
        reject(new HttpError('payload_too_large', 413, `request body is ${declared} bytes, over the limit of ${maxBodyBytes} bytes (maxBodyBytes)`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      const fail = (e: Error) => {
        failed = true;
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
          fail(new OverloadedError(`overloaded: request bodies being received already hold ${buffered} bytes (maxBufferedBodyBytes ${maxBufferedBodyBytes}); retry later`));
          return;
        }
        size += c.length;
        buffered += c.length;
        chunks.push(c);
      });
      req.on('end', () => {
        if (failed) return;
        buffered -= size;
        const text = Buffer.concat(chunks).toString('utf8');
        chunks.length = 0;
        if (text.trim() === '') {
          reject(new BadRequestError('request body must be a JSON object, got an empty body'));
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new BadRequestError(`request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`));
        }
      });
      req.on('close', () => {
        // Client went away mid-body: give its bytes back.
        if (!failed && !req.complete) fail(new ServeError('cancelled', 499, 'the client closed the connection before the body was complete'));
      });
      req.on('error', reject);
    });

  const objectBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const body = await readJson(req);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new BadRequestError(`request body must be a JSON object, got ${Array.isArray(body) ? 'an array' : JSON.stringify(body)}`);
    }
    return body as Record<string, unknown>;
  };

  const timeoutOf = (body: Record<string, unknown>): number | undefined => (body.timeoutMs === undefined ? undefined : checkTimeoutMs(body.timeoutMs));

  /** Aborts when the client goes away before the answer, so its queued work is dropped. */
  const clientSignal = (req: IncomingMessage, res: ServerResponse): AbortController => {
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new Error('client closed the connection'));
    });
    return ac;
  };

  const routes: Route[] = [
    {
      method: 'POST', pattern: /^\/v1\/predict$/, label: '/v1/predict',
      handler: async (req, res) => {
        const body = await objectBody(req);
        const timeoutMs = timeoutOf(body);
        const ac = clientSignal(req, res);
        if (body.input !== undefined && body.inputs !== undefined) throw new BadRequestError('give either "input" (one sequence) or "inputs" (a list of sequences), not both');
        if (body.input !== undefined) {
          const seq = toSequence(body.input, inputSize, maxTime, 'input');
          const r = await service.predict(seq.data, { signal: ac.signal, timeoutMs });
          sendJson(res, 200, { output: nest(r.y, r.dims), dims: r.dims });
          return;
        }
        if (body.inputs !== undefined) {
          if (!Array.isArray(body.inputs) || body.inputs.length === 0) {
            throw new BadRequestError(`inputs must be a non-empty array of sequences ([batch][time][${inputSize}]), got ${Array.isArray(body.inputs) ? 'an empty array' : JSON.stringify(body.inputs)?.slice(0, 60)}`);
          }
          // More sequences than the queue can ever hold would be half-run, then refused as
          // "retry later", which can never succeed: refuse them as a bad request up front.
          const { maxQueue, maxQueueBytes } = service.batcher;
          if (body.inputs.length > maxQueue) {
            throw new BadRequestError(`inputs must hold at most ${maxQueue} sequences (maxQueue, the most requests that can wait), got ${body.inputs.length}; split them over several requests`);
          }
          // Check every sequence before any is queued, so a bad one costs no run.
          const seqs = body.inputs.map((s, i) => toSequence(s, inputSize, maxTime, `inputs[${i}]`));
          const bytes = seqs.reduce((n, s) => n + s.data.byteLength, 0);
          if (bytes > maxQueueBytes) {
            throw new BadRequestError(`inputs hold ${bytes} bytes of float32 values, more than the queue may ever hold (maxQueueBytes ${maxQueueBytes}); split them over several requests`);
          }
          // One listener per queued sequence on the shared signal is expected, not a leak.
          setMaxListeners(seqs.length + 10, ac.signal);
          // Each sequence is its own batcher request (they merge with everyone else's); the first
          // failure cancels the rest.
          try {
            const rs = await Promise.all(seqs.map((s) => service.predict(s.data, { signal: ac.signal, timeoutMs })));
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
      method: 'POST', pattern: /^\/v1\/streams$/, label: '/v1/streams',
      handler: async (_req, res) => {
        const s = service.openStream();
        sendJson(res, 201, { id: s.id });
      },
    },
    {
      method: 'POST', pattern: /^\/v1\/streams\/([^/]+)$/, label: '/v1/streams/:id',
      handler: async (req, res, [id]) => {
        const stream = streamOf(id);
        const body = await objectBody(req);
        const timeoutMs = timeoutOf(body);
        if (body.input === undefined) throw new BadRequestError(`request body must have "input": the next chunk, [time][${inputSize}]`);
        const seq = toSequence(body.input, inputSize, maxTime, 'input');
        const ac = clientSignal(req, res);
        const r = await stream.append(seq.data, { signal: ac.signal, timeoutMs });
        sendJson(res, 200, { output: nest(r.y, r.dims), dims: r.dims, steps: stream.steps });
      },
    },
    {
      method: 'POST', pattern: /^\/v1\/streams\/([^/]+)\/reset$/, label: '/v1/streams/:id/reset',
      handler: async (_req, res, [id]) => {
        streamOf(id).reset();
        sendJson(res, 200, { id, steps: 0 });
      },
    },
    {
      method: 'DELETE', pattern: /^\/v1\/streams\/([^/]+)$/, label: '/v1/streams/:id',
      handler: async (_req, res, [id]) => {
        streamOf(id).close();
        sendJson(res, 200, { id, closed: true });
      },
    },
    {
      method: 'GET', pattern: /^\/v1\/model$/, label: '/v1/model',
      handler: async (_req, res) => {
        const e = service.engine;
        sendJson(res, 200, {
          spec: e.spec,
          provider: e.provider,
          fallbacks: e.fallbacks,
          workers: e.workers,
          inputSize,
          outputSize: service.batcher.info.outputSize,
          returnsSequences: service.batcher.info.returnsSequences,
          streaming: service.streamUnsupported === null ? true : { supported: false, reason: service.streamUnsupported },
          limits: {
            maxBatch: service.batcher.maxBatch, maxWaitMs: service.batcher.maxWaitMs, maxQueue: service.batcher.maxQueue,
            timeoutMs: service.batcher.timeoutMs, maxTime, maxBodyBytes, maxBatchBytes: service.batcher.maxBatchBytes,
          },
        });
      },
    },
    {
      method: 'GET', pattern: /^\/healthz$/, label: '/healthz',
      handler: async (_req, res) => sendJson(res, 200, { status: 'ok' }),
    },
    {
      method: 'GET', pattern: /^\/readyz$/, label: '/readyz',
      handler: async (_req, res) => {
        if (draining) sendJson(res, 503, { status: 'draining' });
        else sendJson(res, 200, { status: 'ready', provider: service.provider });
      },
    },
    {
      method: 'GET', pattern: /^\/metrics$/, label: '/metrics',
      handler: async (_req, res) => {
        const text = registry.render();
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  ];

  const streamOf = (id: string) => {
    if (!service.streams) throw new ServeError('stream_unsupported', 400, service.streamUnsupported ?? 'this model cannot stream');
    let decoded: string;
    try {
      decoded = decodeURIComponent(id);
    } catch {
      throw new BadRequestError(`stream id ${JSON.stringify(id)} is not valid percent-encoding (expected an id returned by POST /v1/streams)`);
    }
    return service.streams.get(decoded);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    let label = 'unmatched';
    inFlight++;
    try {
      const candidates = routes.filter((r) => r.pattern.test(path));
      // HEAD is GET without the body (node:http drops the body of a HEAD answer itself).
      const route = candidates.find((r) => r.method === method || (method === 'HEAD' && r.method === 'GET'));
      if (candidates.length > 0) label = candidates[0].label;
      if (!route) {
        if (candidates.length > 0) {
          const allowed = [...new Set(candidates.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method])))];
          res.setHeader('allow', allowed.join(', '));
          throw new HttpError('method_not_allowed', 405, `${method} is not allowed on ${path}; use ${allowed.join(' or ')}`);
        }
        throw new HttpError('not_found', 404, `no route ${method} ${path}`);
      }
      label = route.label;
      // Health and metrics stay answerable while draining; work does not.
      if (draining && label !== '/healthz' && label !== '/readyz' && label !== '/metrics') {
        res.setHeader('connection', 'close');
        throw new ShuttingDownError('the server is shutting down and accepts no new requests');
      }
      const params = path.match(route.pattern)!.slice(1);
      await route.handler(req, res, params);
    } catch (e) {
      const err = e instanceof ServeError ? e : new ServeError('run_failed', 500, `internal error: ${e instanceof Error ? e.message : String(e)}`);
      if (err.status >= 500 && err.status !== 503) log({ event: 'error', route: label, status: err.status, message: err.message });
      const bodyUnread = !req.complete;
      if (bodyUnread) {
        // The rest of the body is not read (413, 503): close the connection once the answer is out.
        res.setHeader('connection', 'close');
      }
      if (!res.headersSent && !res.destroyed) sendJson(res, err.status, { error: { code: err.code, message: err.message } });
      if (bodyUnread) req.resume();
    } finally {
      // No answer written, or the client left before it was flushed: the de-facto "client
      // closed request" 499, not the 200 statusCode defaults to.
      const aborted = !res.writableEnded || (res.destroyed && !res.writableFinished);
      requests.inc({ route: label, method, status: aborted ? '499' : String(res.statusCode) });
      latency.observe((performance.now() - started) / 1000, { route: label });
      inFlight--;
      if (inFlight === 0 && idleResolve) idleResolve();
    }
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  // Keep-alive sockets are tracked so a drain can end the idle ones and, past the deadline, all.
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // Requests node:http cannot parse never reach a handler; they still get a JSON error saying why.
  server.on('clientError', (err: Error & { code?: string }, socket) => {
    if (!socket.writable) {
      socket.destroy(err);
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const [status, reason, code] = tooLarge ? [431, 'Request Header Fields Too Large', 'header_too_large'] : [400, 'Bad Request', 'bad_request'];
    const message = tooLarge
      ? `the request line and headers exceed the server's limit of ${maxHeaderSize} bytes (${err.code})`
      : `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'}): ${err.message}`;
    const text = JSON.stringify({ error: { code, message } });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await service.close({ drain: false });
    throw e;
  }
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${urlHost}:${addr.port}`;

  let closing: Promise<void> | null = null;
  const running: RunningServer = {
    url,
    host: addr.address,
    port: addr.port,
    service,
    registry,
    close: () => {
      closing ??= (async () => {
        draining = true;
        log({ event: 'draining', inFlight, queued: service.batcher.queueDepth });
        // No new connections; open keep-alive ones get 503 + connection: close on their next request.
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Only new HTTP requests are refused (the draining flag). Handlers already past that check
        // (some still reading their body) must still reach the batchers, so those stay open and
        // just stop waiting out maxWaitMs; they close once the last handler is done.
        service.hurry();
        if (inFlight > 0) {
          await Promise.race([
            new Promise<void>((resolve) => (idleResolve = resolve)),
            new Promise<void>((resolve) => setTimeout(resolve, drainTimeoutMs).unref()),
          ]);
        }
        await service.close({ drain: true });
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
        await serverClosed;
        uninstallSignals(running);
        log({ event: 'closed' });
      })();
      return closing;
    },
  };
  if (options.handleSignals ?? true) installSignals(running, log, drainTimeoutMs);
  log({
    event: 'listening', url, provider: service.provider, fallbacks: service.engine.fallbacks, workers: service.engine.workers,
    maxBatch: service.batcher.maxBatch, maxWaitMs: service.batcher.maxWaitMs, maxQueue: service.batcher.maxQueue,
    streaming: service.streamUnsupported ?? 'supported',
  });
  return running;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
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
