// Bad model descriptions fail at Model.create with an Error naming the field, the value and
// what was expected; good ones fill in the documented defaults.

import { describe, expect, it } from 'vitest';
import { dense, gru, lstm, rnn } from '../src/layers/spec.js';
import { Model } from '../src/model/model.js';

const create = (layers: unknown[], inputSize: unknown = 3) => () => Model.create({ inputSize, layers } as never);

describe('model spec validation', () => {
  it('unknown layer kinds and options', () => {
    expect(create([{ kind: 'transformer', units: 4 }])).toThrow('layers[0].kind must be one of "rnn", "lstm", "gru", "dense", got "transformer"');
    expect(create([{ kind: 'lstm', units: 4, peephole: true }])).toThrow('layers[0]: unknown option "peephole" for a lstm layer; known options:');
    expect(create([{ kind: 'gru', units: 4, activation: 'relu' }])).toThrow('layers[0]: unknown option "activation" for a gru layer');
    expect(create([lstm({ units: 2 }), { kind: 'dense', units: 2, activation: 'gelu' }])).toThrow('layers[1](dense).activation must be one of "none", "relu", "tanh", "sigmoid", "softmax", got "gelu"');
    expect(create([{ kind: 'rnn', units: 2, activation: 'sigmoid' }])).toThrow('layers[0](rnn).activation must be one of "tanh", "relu", got "sigmoid"');
    expect(create([{ kind: 'gru', units: 2, linearBeforeReset: 2 }])).toThrow('layers[0](gru).linearBeforeReset must be one of 0, 1, got 2');
    expect(create([{ kind: 'lstm', units: 2, direction: 'both' }])).toThrow('layers[0](lstm).direction must be one of "forward", "reverse", "bidirectional", got "both"');
    expect(() => lstm({ units: 2, clip: -1 })).toThrow('layer(lstm).clip must be a positive finite number or null, got -1');
  });

  it('units ≤ 0 or not an integer, and bad input sizes', () => {
    expect(create([lstm({ units: 2 }), { kind: 'dense', units: 0 }])).toThrow('layers[1](dense).units must be a positive integer, got 0');
    expect(create([{ kind: 'lstm', units: -3 }])).toThrow('layers[0](lstm).units must be a positive integer, got -3');
    expect(create([{ kind: 'gru', units: 2.5 }])).toThrow('layers[0](gru).units must be a positive integer, got 2.5');
    expect(() => rnn({ units: 0 })).toThrow('layer(rnn).units must be a positive integer, got 0');
    expect(create([lstm({ units: 2 })], 0)).toThrow('model.inputSize must be a positive integer, got 0');
  });

  it('layer order rules', () => {
    expect(create([dense({ units: 2 })])).toThrow('model.layers must contain at least one recurrent layer');
    expect(create([lstm({ units: 2 }), gru({ units: 2 })])).toThrow('layers[0].returnSequences must be true, got false: layers[1] is recurrent');
    expect(create([lstm({ units: 2 }), dense({ units: 2 }), gru({ units: 2 })])).toThrow('layers[2] (gru) must come before every dense layer');
  });

  it('fills in the documented defaults', () => {
    const m = Model.create({ inputSize: 3, layers: [gru({ units: 4 }), dense({ units: 2 })] });
    expect(m.spec.layers[0]).toMatchObject({ kind: 'gru', direction: 'forward', returnSequences: false, linearBeforeReset: 1 });
    expect(m.spec.layers[1]).toEqual({ kind: 'dense', units: 2, activation: 'none' });
  });
});
