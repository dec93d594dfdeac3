// `rnnx serve`'s listener: a node:http server over createRequestHandler (handler.ts, where the
// routes and the boundary's checks live), with what only a process that owns the socket can
// do: request and header timeouts, keep-alive tracking, draining on SIGTERM, and loading the
// models named on the command line (files, or a Triton-style repository folder).

import { createServer, maxHeaderSize, type Server } from 'node:http';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isIP, type AddressInfo } from 'node:net';
import { createRequestHandler, type HandlerOptions, type RequestHandler } from './handler.js';
import { checkTimeoutMs, MAX_TIMEOUT_MS } from './batcher.js';
import { addDefaultMetrics, type Registry } from './metrics.js';
import { InferenceService, type ServiceOptions } from './service.js';

export interface ServerOptions extends Omit<ServiceOptions, 'name' | 'version'>, Omit<HandlerOptions, 'log' | 'registry'> {
  /**
   * What to serve: one .onnx file, several, or a folder laid out as a Triton model repository
   * (`<name>/<version>/model.onnx`; the highest version of each is served). A file's model name
   * is its base name without `.onnx`.
   */
  modelPath: string | string[];
  /** TCP port; 0 picks a free one (see `RunningServer.port`). Default 8080. */
  port?: number;
  /** Interface to listen on. Default '127.0.0.1' (loopback only). */
  host?: string;
  /** A request (headers and body) must arrive whole within this many ms, else 408. Default 30000. */
  requestTimeoutMs?: number;
  /** Headers must arrive within this many ms. Default 10000. */
  headersTimeoutMs?: number;
  /** Most time (ms) a graceful shutdown waits for in-flight requests before cutting connections. Default 30000. */
  drainTimeoutMs?: number;
  /**
   * Install SIGTERM/SIGINT handlers that drain and then exit the process with code 0 (what
   * `rnnx serve` wants). Default true; embedders that manage signals themselves pass false.
   */
  handleSignals?: boolean;
  /** prom-client registry; default prom-client's global one, with the default process metrics added. */
  registry?: Registry;
  /** One JSON object per event (start, shutdown, run errors); default writes a line to stderr; false silences. */
  log?: ((event: Record<string, unknown>) => void) | false;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  host: string;
  port: number;
  /** The first model's service (the one /v1 routes use). */
  service: InferenceService;
  services: InferenceService[];
  handler: RequestHandler;
  registry: Registry;
  /** Drains in-flight requests (new ones get 503), then releases the models. Idempotent. */
  close(): Promise<void>;
}

/** A model to load: its route name, version and file. */
export interface ModelEntry {
  name: string;
  version: string;
  path: string;
}

/**
 * Turns command-line model arguments into models: a file is served under its base name; a folder
 * is a Triton-style repository, each `<name>/<version>/model.onnx` (highest numeric version).
 */
export function resolveModels(paths: string | string[]): ModelEntry[] {
  const out: ModelEntry[] = [];
  for (const p of Array.isArray(paths) ? paths : [paths]) {
    if (typeof p !== 'string' || p === '') throw new Error(`modelPath must be a path to an .onnx file or a model repository folder, got ${JSON.stringify(p)}`);
    if (!existsSync(p)) throw new Error(`${p}: cannot read: no such file or directory`);
    if (!statSync(p).isDirectory()) {
      out.push({ name: basename(p).replace(/\.onnx$/i, ''), version: '1', path: p });
      continue;
    }
    const found: ModelEntry[] = [];
    for (const name of readdirSync(p).sort()) {
      const dir = join(p, name);
      if (!statSync(dir).isDirectory()) continue;
      const versions = readdirSync(dir).filter((v) => /^\d+$/.test(v) && existsSync(join(dir, v, 'model.onnx'))).sort((a, b) => Number(b) - Number(a));
      if (versions.length > 0) found.push({ name, version: versions[0], path: join(dir, versions[0], 'model.onnx') });
    }
    if (found.length === 0) throw new Error(`${p}: a model repository folder must hold <name>/<version>/model.onnx, found none`);
    out.push(...found);
  }
  const seen = new Set<string>();
  for (const m of out) {
    if (seen.has(m.name)) throw new Error(`two models are named ${JSON.stringify(m.name)} (${m.path}); model names must be distinct`);
    seen.add(m.name);
  }
  return out;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * How often node:http looks for requests past their header and request timeouts (its default is
 * every 30 s): at least every second, and as often as the header timeout when that is shorter.
 */
export function connectionsCheckingIntervalMs(headersTimeoutMs: number): number {
  return Math.min(1000, headersTimeoutMs);
}

/** The warning `rnnx serve` prints for a bind beyond this machine without authentication, else null. */
export function exposureWarning(host: string, hasToken: boolean): string | null {
  if (isLoopbackHost(host) || hasToken) return null;
  return `listening on ${host}, beyond this machine, without authentication: anyone who can reach it can run the models. Set a token (--token-file, RNNX_SERVE_TOKEN) or put an authenticating proxy in front`;
}

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
    // At most setTimeout's limit: past it the timer would fire at once and cut the drain short.
    const deadline = Math.min(MAX_TIMEOUT_MS, Math.max(...[...signalServers].map((s) => drainDeadlines.get(s) ?? 30_000)) + 10_000);
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

/** Loads the models, starts batching and listens. Resolves once the port is bound. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const models = resolveModels(options.modelPath);
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port must be an integer in [0, 65535], got ${port}`);
  // A timer's delay: Infinity or past 2^31 - 1 ms would fire at once.
  const drainTimeoutMs = checkTimeoutMs(options.drainTimeoutMs ?? 30_000, 'drainTimeoutMs');
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const headersTimeoutMs = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeoutMs);
  for (const [k, v] of Object.entries({ requestTimeoutMs, headersTimeoutMs })) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${k} must be a positive integer of milliseconds, got ${v}`);
  }
  const log = options.log === false ? () => {} : options.log ?? defaultLog;
  const loopback = isLoopbackHost(host);
  const warning = exposureWarning(host, options.token !== undefined);
  if (warning) log({ event: 'warning', message: warning });

  const registry = options.registry;
  if (!registry) addDefaultMetrics();
  const services: InferenceService[] = [];
  try {
    for (const m of models) services.push(await InferenceService.open(m.path, { ...options, name: m.name, version: m.version, registry }));
  } catch (e) {
    await Promise.all(services.map((s) => s.close({ drain: false })));
    throw e;
  }
  const handler = createRequestHandler(services, {
    ...options,
    allowedHosts: options.allowedHosts ?? (loopback ? 'loopback' : 'any'),
    registry,
    log,
  });
  const service = services[0];

  // Node's defaults (300 s to receive a request) let stalled uploads hold the receive budget for
  // minutes; these bound it (handler.ts's bodyTimeoutMs does the same for a mounted handler).
  // Node checks both only every connectionsCheckingInterval (default 30 s): check at least every
  // second, and as often as the header timeout, so a stalled request gets its 408 about on time.
  const server: Server = createServer({
    requestTimeout: requestTimeoutMs,
    headersTimeout: headersTimeoutMs,
    connectionsCheckingInterval: connectionsCheckingIntervalMs(headersTimeoutMs),
  }, handler);
  // Requests node:http cannot parse never reach a handler; they still get a JSON error saying why.
  server.on('clientError', (err: Error & { code?: string }, socket) => {
    if (!socket.writable) {
      socket.destroy(err);
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const tooSlow = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const [status, reason, code] = tooLarge ? [431, 'Request Header Fields Too Large', 'header_too_large']
      : tooSlow ? [408, 'Request Timeout', 'request_timeout'] : [400, 'Bad Request', 'bad_request'];
    const message = tooLarge
      ? `the request line and headers exceed the server's limit of ${maxHeaderSize} bytes (${err.code})`
      : tooSlow ? `the request did not arrive whole within ${requestTimeoutMs} ms (requestTimeoutMs; headers within ${headersTimeoutMs} ms)`
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
    handler.dispose();
    await Promise.all(services.map((s) => s.close({ drain: false })));
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
    services,
    handler,
    registry: service.registry,
    close: () => {
      closing ??= (async () => {
        handler.drain();
        const inFlight = handler.inFlight;
        log({ event: 'draining', inFlight, queued: service.batcher.queueDepth });
        // No new connections; open keep-alive ones get 503 + connection: close on their next request.
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Only new HTTP requests are refused (the draining flag). Handlers already past that check
        // (some still reading their body) must still reach the batchers, so those stay open and
        // just stop waiting out maxWaitMs; they close once the last handler is done.
        for (const s of services) s.hurry();
        if (handler.inFlight > 0) {
          await Promise.race([
            handler.idle(),
            new Promise<void>((resolve) => setTimeout(resolve, drainTimeoutMs).unref()),
          ]);
        }
        await Promise.all(services.map((s) => s.close({ drain: true })));
        handler.dispose();
        // Past the drain every connection still open is cut (node tracks them all: no set of our own).
        server.closeAllConnections();
        await serverClosed;
        uninstallSignals(running);
        log({ event: 'closed' });
      })();
      return closing;
    },
  };
  if (options.handleSignals ?? true) installSignals(running, log, drainTimeoutMs);
  log({
    event: 'listening', url, models: services.map((s) => ({ name: s.name, version: s.version, units: s.units.mode })), provider: service.provider, fallbacks: service.engine.fallbacks, workers: service.engine.workers,
    maxBatch: service.batcher.maxBatch, maxWaitMs: service.batcher.maxWaitMs, maxQueue: service.batcher.maxQueue,
    streaming: service.streamUnsupported ?? 'supported',
  });
  return running;
}

