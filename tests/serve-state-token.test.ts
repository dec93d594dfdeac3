// Client-carried stream state tokens, in process: the byte layout the format comment documents
// (re-derived here with node:crypto and a hand-written parser, independent of state-token.ts),
// a round trip for several layer shapes, and every way a token can be refused (another model,
// another key, an edited byte, a wrong length, not a token at all), each with its message.

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../src/serve/errors.js';
import { checkStateKey, decodeStateToken, encodeStateToken, MIN_STATE_KEY_BYTES, randomStateKey } from '../src/serve/state-token.js';
import type { LayerState, LayerStateShape } from '../src/serve/types.js';

const key = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');
const hash = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const otherHash = 'ffb2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

// An LSTM layer (h and c, two directions) then a GRU layer (h only).
const shapes: LayerStateShape[] = [
  { directions: 2, units: 3, hasCell: true },
  { directions: 1, units: 2, hasCell: false },
];
const state: LayerState[] = [
  { h: Float32Array.from([0.5, -1.25, 3, 7.5, -0.125, 2]), c: Float32Array.from([-4, 0.75, 1e-3, 9, -8, 0.0625]) },
  { h: Float32Array.from([1.5, -2.5]) },
];

/** The documented layout, parsed by hand: "rs1." body "." tag. */
function parse(token: string): { body: Buffer; tag: Buffer } {
  expect(token.startsWith('rs1.')).toBe(true);
  const [b, t, ...rest] = token.slice(4).split('.');
  expect(rest).toEqual([]);
  return { body: Buffer.from(b, 'base64url'), tag: Buffer.from(t, 'base64url') };
}

const token = (body: Buffer, tag: Buffer) => `rs1.${body.toString('base64url')}.${tag.toString('base64url')}`;
const hmac = (k: Buffer, h: string, body: Buffer) => createHmac('sha256', k).update('rnnx-state-v1').update(h).update(body).digest();

describe('state token layout', () => {
  it('body = model hash prefix | steps (uint32 LE) | float32 LE state, layer by layer, h then c; tag = HMAC-SHA256', () => {
    const t = encodeStateToken(key, hash, shapes, state, 1234);
    const { body, tag } = parse(t);
    expect(body.length).toBe(8 + 4 + (6 + 6 + 2) * 4);
    expect(body.subarray(0, 8).toString('hex')).toBe(hash.slice(0, 16));
    expect(body.readUInt32LE(8)).toBe(1234);
    const floats = Array.from({ length: 14 }, (_, i) => body.readFloatLE(12 + 4 * i));
    expect(floats).toEqual([...state[0].h, ...state[0].c!, ...state[1].h]);
    expect(tag.equals(hmac(key, hash, body))).toBe(true);
  });

  it('steps beyond uint32 are stored as 4294967295, not wrapped', () => {
    const { body } = parse(encodeStateToken(key, hash, shapes, state, 2 ** 32 + 5));
    expect(body.readUInt32LE(8)).toBe(0xffffffff);
    const { body: exact } = parse(encodeStateToken(key, hash, shapes, state, 0xffffffff));
    expect(exact.readUInt32LE(8)).toBe(0xffffffff);
  });

  it('round trip: decode gives back the state and the steps', () => {
    const t = encodeStateToken(key, hash, shapes, state, 77);
    const d = decodeStateToken(key, hash, shapes, t);
    expect(d.steps).toBe(77);
    expect(d.state.length).toBe(2);
    expect(Array.from(d.state[0].h)).toEqual(Array.from(state[0].h));
    expect(Array.from(d.state[0].c!)).toEqual(Array.from(state[0].c!));
    expect(Array.from(d.state[1].h)).toEqual(Array.from(state[1].h));
    expect(d.state[1].c).toBeUndefined();
    expect(d.state[0].h).toBeInstanceOf(Float32Array);
  });

  it('a token hand-made to the documented layout is accepted', () => {
    const body = Buffer.alloc(12 + 2 * 4);
    Buffer.from(hash.slice(0, 16), 'hex').copy(body, 0);
    body.writeUInt32LE(9, 8);
    body.writeFloatLE(0.25, 12);
    body.writeFloatLE(-3, 16);
    const one: LayerStateShape[] = [{ directions: 1, units: 2, hasCell: false }];
    const d = decodeStateToken(key, hash, one, token(body, hmac(key, hash, body)));
    expect(d.steps).toBe(9);
    expect(Array.from(d.state[0].h)).toEqual([0.25, -3]);
  });
});

describe('refused tokens (BadRequestError, HTTP 400, naming the field)', () => {
  const good = encodeStateToken(key, hash, shapes, state, 5);
  const refuse = (t: unknown, pattern: RegExp | string, opts: { k?: Buffer; h?: string; s?: LayerStateShape[]; field?: string } = {}) => {
    let err: unknown;
    try {
      decodeStateToken(opts.k ?? key, opts.h ?? hash, opts.s ?? shapes, t, opts.field);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).status).toBe(400);
    expect((err as Error).message).toMatch(pattern);
  };

  it('not a token: wrong type, wrong prefix, wrong number of parts', () => {
    refuse(42, 'state must be a state token returned by this model\'s server (starting "rs1."), got number');
    refuse(null, /got object$/);
    refuse('hello, this is a long string', /starting "rs1\."\), got "hello, this is a lon"$/);
    refuse('rs2.' + good.slice(4), /starting "rs1\."/);
    refuse(good.replace('rs1.', ''), /starting "rs1\."/, { field: 'parameters.stream_state' });
    refuse(good.replace('rs1.', ''), /^parameters\.stream_state must be a state token/, { field: 'parameters.stream_state' });
    // Three parts, or one: the body is not read.
    refuse(`${good}.x`, /not a valid state token for this model: expected 68 bytes of state, got 0/);
    refuse(good.slice(0, good.lastIndexOf('.')), /expected 68 bytes of state, got 0/);
    refuse('rs1.', /expected 68 bytes of state, got 0/);
  });

  it('a token of another model file (hash prefix differs)', () => {
    refuse(good, `state was made for another model file, or altered (its hash differs from this model's ${otherHash.slice(0, 16)}...)`, { h: otherHash });
    // The same check whatever the body length, once it holds the 8 hash bytes.
    const { body, tag } = parse(good);
    refuse(token(body.subarray(0, 8), tag), /expected 68 bytes of state, got 8/);
    refuse(token(body.subarray(0, 8), tag), /made for another model file/, { h: otherHash });
    refuse(token(body.subarray(0, 7), tag), /expected 68 bytes of state, got 7/, { h: otherHash });
  });

  it('a wrong body length or tag length', () => {
    const { body, tag } = parse(good);
    refuse(token(body.subarray(0, body.length - 4), tag), 'state is not a valid state token for this model: expected 68 bytes of state, got 64');
    refuse(token(Buffer.concat([body, Buffer.alloc(4)]), tag), /expected 68 bytes of state, got 72/);
    refuse(token(body, tag.subarray(0, 31)), /expected 68 bytes of state, got 68/);
    refuse(token(body, Buffer.concat([tag, Buffer.alloc(1)])), /expected 68 bytes of state, got 68/);
    // Shapes of another model: the length no longer matches.
    refuse(good, /expected 28 bytes of state, got 68/, { s: [{ directions: 1, units: 4, hasCell: false }] });
  });

  it('an edited byte anywhere, or another key', () => {
    const { body, tag } = parse(good);
    for (const at of [8, 12, 60, body.length - 1]) {
      const edited = Buffer.from(body);
      edited[at] ^= 1;
      refuse(token(edited, tag), 'state does not verify: it was altered, or made by a server with another state key');
    }
    const t2 = Buffer.from(tag);
    t2[31] ^= 0x80;
    refuse(token(body, t2), /does not verify/);
    refuse(good, /does not verify/, { k: Buffer.from('another key of thirty-two bytes!!', 'utf8') });
    // Re-signed correctly with the right key: accepted again.
    const edited = Buffer.from(body);
    edited.writeUInt32LE(6, 8);
    expect(decodeStateToken(key, hash, shapes, token(edited, hmac(key, hash, edited))).steps).toBe(6);
  });
});

describe('state keys', () => {
  it('a configured key must hold at least 32 bytes, as text or bytes', () => {
    expect(MIN_STATE_KEY_BYTES).toBe(32);
    expect(checkStateKey('k'.repeat(32)).equals(Buffer.from('k'.repeat(32)))).toBe(true);
    expect(checkStateKey(new Uint8Array(40).fill(7)).equals(Buffer.alloc(40, 7))).toBe(true);
    // 31 characters of which one takes two bytes in UTF-8: 32 bytes, accepted.
    expect(checkStateKey(`é${'k'.repeat(30)}`).length).toBe(32);
    expect(() => checkStateKey('k'.repeat(31))).toThrow('stateKey must be at least 32 bytes (e.g. `openssl rand -hex 32`), got 31 bytes');
    expect(() => checkStateKey(new Uint8Array(3), 'RNNX_STATE_KEY')).toThrow(/^RNNX_STATE_KEY must be at least 32 bytes .*got 3 bytes$/);
    expect(() => checkStateKey(12345)).toThrow(/got number$/);
    expect(() => checkStateKey(undefined)).toThrow(/got undefined$/);
  });

  it('a random key is 32 fresh bytes', () => {
    const a = randomStateKey();
    const b = randomStateKey();
    expect(a.length).toBe(32);
    expect(a.equals(b)).toBe(false);
  });
});
