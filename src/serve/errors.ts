// Typed errors of the serving layer. Each carries a stable `code` for programs and the HTTP
// status the server answers with, so the batcher, the streams and the HTTP layer agree on one
// mapping (an overloaded batcher is a 503 wherever it is seen).

export type ServeErrorCode =
  | 'overloaded'
  | 'timeout'
  | 'cancelled'
  | 'shutting_down'
  | 'bad_request'
  | 'payload_too_large'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'header_too_large'
  | 'request_timeout'
  | 'unauthorized'
  | 'forbidden'
  | 'stream_unsupported'
  | 'run_failed';

export class ServeError extends Error {
  readonly code: ServeErrorCode;
  /** HTTP status the server maps this error to. */
  readonly status: number;

  constructor(code: ServeErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServeError';
    this.code = code;
    this.status = status;
  }
}

/** The bounded queue is full: the request was refused at once, nothing of it was kept. */
export class OverloadedError extends ServeError {
  constructor(message: string) {
    super('overloaded', 503, message);
    this.name = 'OverloadedError';
  }
}

/** The request waited or ran longer than its timeout. */
export class TimeoutError extends ServeError {
  constructor(message: string) {
    super('timeout', 504, message);
    this.name = 'TimeoutError';
  }
}

/** The caller's AbortSignal fired. 499 is the de-facto "client closed request" status. */
export class CancelledError extends ServeError {
  constructor(message: string, cause?: unknown) {
    super('cancelled', 499, message, { cause });
    this.name = 'CancelledError';
  }
}

/** The batcher or server is draining or closed and takes no new work. */
export class ShuttingDownError extends ServeError {
  constructor(message: string) {
    super('shutting_down', 503, message);
    this.name = 'ShuttingDownError';
  }
}

/** The request itself is wrong (shape, values, JSON): the caller must fix it. */
export class BadRequestError extends ServeError {
  constructor(message: string) {
    super('bad_request', 400, message);
    this.name = 'BadRequestError';
  }
}
