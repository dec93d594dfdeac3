// Client-carried stream state: a stream's recurrent state (h, c per layer) handed to the client
// as an opaque token, so that the next chunk can go to any replica that shares the key; no
// sticky routing, no server memory per stream. The token is integrity-protected, not secret:
//
//   token = "rs1." base64url(body) "." base64url(HMAC-SHA256(key, "rnnx-state-v1" | modelHash | body))
//   body  = modelHash[0..8) | steps (uint32 LE) | the state as float32 LE, layer by layer, h then c
//
// Binding the MAC to the model file's SHA-256 makes a token from another model (or another
// version of the same name) fail, as does any edited byte. Anyone holding a token can read the
// state inside it: that is the client's own stream.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { BadRequestError } from './errors.js';
import type { LayerState, LayerStateShape } from './types.js';

const PREFIX = 'rs1.';
const CONTEXT = 'rnnx-state-v1';
/** Shortest accepted key: 256 bits, HMAC-SHA256's strength. */
export const MIN_STATE_KEY_BYTES = 32;

/** A key for one process when none is configured: tokens then verify only on this process. */
export function randomStateKey(): Buffer {
  return randomBytes(32);
}

/** Checks a configured key (bytes or text); throws naming the field. */
export function checkStateKey(key: unknown, field = 'stateKey'): Buffer {
  const buf = typeof key === 'string' ? Buffer.from(key, 'utf8') : key instanceof Uint8Array ? Buffer.from(key) : null;
  if (!buf || buf.length < MIN_STATE_KEY_BYTES) {
    throw new Error(`${field} must be at least ${MIN_STATE_KEY_BYTES} bytes (e.g. \`openssl rand -hex 32\`), got ${buf ? `${buf.length} bytes` : typeof key}`);
  }
  return buf;
}

function stateFloats(shapes: readonly LayerStateShape[]): number {
  return shapes.reduce((n, s) => n + s.directions * s.units * (s.hasCell ? 2 : 1), 0);
}

function mac(key: Buffer, modelHash: string, body: Buffer): Buffer {
  return createHmac('sha256', key).update(CONTEXT).update(modelHash).update(body).digest();
}

/** The token for `state` after `steps` steps of the model whose file hashes to `modelHash` (hex). */
export function encodeStateToken(key: Buffer, modelHash: string, shapes: readonly LayerStateShape[], state: readonly LayerState[], steps: number): string {
  const n = stateFloats(shapes);
  const body = Buffer.alloc(8 + 4 + n * 4);
  Buffer.from(modelHash.slice(0, 16), 'hex').copy(body, 0);
  body.writeUInt32LE(Math.min(steps, 0xffffffff), 8);
  let o = 12;
  shapes.forEach((s, k) => {
    for (const v of s.hasCell ? [state[k].h, state[k].c!] : [state[k].h]) {
      for (let i = 0; i < v.length; i++, o += 4) body.writeFloatLE(v[i], o);
    }
  });
  return `${PREFIX}${body.toString('base64url')}.${mac(key, modelHash, body).toString('base64url')}`;
}

/**
 * Verifies and opens a token; throws BadRequestError (HTTP 400) for anything that is not a token
 * this model's servers made with this key: malformed, edited, another key, or another model.
 */
export function decodeStateToken(key: Buffer, modelHash: string, shapes: readonly LayerStateShape[], token: unknown, field = 'state'): { state: LayerState[]; steps: number } {
  if (typeof token !== 'string' || !token.startsWith(PREFIX)) {
    throw new BadRequestError(`${field} must be a state token returned by this model's server (starting "${PREFIX}"), got ${typeof token === 'string' ? JSON.stringify(token.slice(0, 20)) : typeof token}`);
  }
  const parts = token.slice(PREFIX.length).split('.');
  const n = stateFloats(shapes);
  const body = parts.length === 2 ? Buffer.from(parts[0], 'base64url') : Buffer.alloc(0);
  const tag = parts.length === 2 ? Buffer.from(parts[1], 'base64url') : Buffer.alloc(0);
  if (body.length >= 8 && !body.subarray(0, 8).equals(Buffer.from(modelHash.slice(0, 16), 'hex'))) {
    throw new BadRequestError(`${field} was made for another model file, or altered (its hash differs from this model's ${modelHash.slice(0, 16)}...)`);
  }
  if (body.length !== 12 + n * 4 || tag.length !== 32) {
    throw new BadRequestError(`${field} is not a valid state token for this model: expected ${12 + n * 4} bytes of state, got ${body.length}`);
  }
  if (!timingSafeEqual(tag, mac(key, modelHash, body))) {
    throw new BadRequestError(`${field} does not verify: it was altered, or made by a server with another state key`);
  }
  const steps = body.readUInt32LE(8);
  let o = 12;
  const read = (len: number) => {
    const v = new Float32Array(len);
    for (let i = 0; i < len; i++, o += 4) v[i] = body.readFloatLE(o);
    return v;
  };
  const state = shapes.map((s) => {
    const len = s.directions * s.units;
    const h = read(len);
    return s.hasCell ? { h, c: read(len) } : { h };
  });
  return { state, steps };
}
