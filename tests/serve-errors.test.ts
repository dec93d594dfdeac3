// The serving layer's typed errors: the stable code programs read, the HTTP status the server
// answers with, the class name, the message and the cause, per class.

import { describe, expect, it } from 'vitest';
import { BadRequestError, CancelledError, OverloadedError, ServeError, ShuttingDownError, TimeoutError } from '../src/serve/errors.js';

describe('serve errors', () => {
  it('each class carries its code, status and name', () => {
    const cases: [ServeError, string, number, string][] = [
      [new OverloadedError('m1'), 'overloaded', 503, 'OverloadedError'],
      [new TimeoutError('m2'), 'timeout', 504, 'TimeoutError'],
      [new CancelledError('m3', 'why'), 'cancelled', 499, 'CancelledError'],
      [new ShuttingDownError('m4'), 'shutting_down', 503, 'ShuttingDownError'],
      [new BadRequestError('m5'), 'bad_request', 400, 'BadRequestError'],
      [new ServeError('run_failed', 500, 'm6', { cause: 'c' }), 'run_failed', 500, 'ServeError'],
    ];
    cases.forEach(([e, code, status, name], i) => {
      expect(e).toBeInstanceOf(ServeError);
      expect(e).toBeInstanceOf(Error);
      expect([e.code, e.status, e.name, e.message]).toEqual([code, status, name, `m${i + 1}`]);
      expect(String(e)).toBe(`${name}: m${i + 1}`);
    });
    expect((cases[2][0] as Error & { cause?: unknown }).cause).toBe('why');
    expect((cases[5][0] as Error & { cause?: unknown }).cause).toBe('c');
  });
});
