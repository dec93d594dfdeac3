// Training options as users pass them (src/train/options.ts, schedule.ts): defaults, what reaches
// the native trainer, each rejection with its message (field, value received, what was expected),
// and the learning-rate schedules against their formulas evaluated by hand.
import { describe, expect, it } from 'vitest';
import { defaultLr, nativeOptions, normalizeLoss, normalizeOptimizer } from '../src/train/options.js';
import { checkSchedule, learningRate, type LrSchedule } from '../src/train/schedule.js';
import { thrownMessage } from './thrown-message.js';

const message = thrownMessage;

describe('loss', () => {
  it('defaults to cross-entropy for class labels and MSE for values; a name or {type, delta}', () => {
    expect(normalizeLoss(undefined, 'labels')).toStrictEqual({ type: 'crossentropy' });
    expect(normalizeLoss(undefined, 'values')).toStrictEqual({ type: 'mse' });
    expect(normalizeLoss('huber', 'labels')).toStrictEqual({ type: 'huber' });
    expect(normalizeLoss({ type: 'huber', delta: 0.25 }, 'values')).toStrictEqual({ type: 'huber', delta: 0.25 });
    for (const type of ['mse', 'mae', 'huber', 'crossentropy', 'binaryCrossentropy'] as const) expect(normalizeLoss({ type }, 'values')).toStrictEqual({ type });
  });

  it('names what is wrong', () => {
    // null, like undefined, means the default.
    expect(normalizeLoss(null as never, 'values')).toStrictEqual({ type: 'mse' });
    expect(message(() => normalizeLoss(3 as never, 'values'))).toBe('loss must be a loss name or {type, delta?}, got 3');
    expect(message(() => normalizeLoss('l1' as never, 'values'))).toBe('loss must be one of "mse", "mae", "huber", "crossentropy", "binaryCrossentropy", got "l1"');
    expect(message(() => normalizeLoss({ type: 'huber', delta: 0 }, 'values'))).toBe('loss.delta must be a positive number, got 0');
    expect(message(() => normalizeLoss({ type: 'huber', delta: Number.NaN }, 'values'))).toBe('loss.delta must be a positive number, got null');
    expect(message(() => normalizeLoss({ type: 'huber', delta: Infinity }, 'values'))).toBe('loss.delta must be a positive number, got null');
    expect(message(() => normalizeLoss({ type: 'huber', delta: '1' as never }, 'values'))).toBe('loss.delta must be a positive number, got "1"');
  });
});

describe('optimizer', () => {
  it('Keras defaults: Adam at 0.001, SGD at 0.01, a constant schedule', () => {
    expect(defaultLr('sgd')).toBe(0.01);
    for (const t of ['rmsprop', 'adam', 'adamw'] as const) expect(defaultLr(t)).toBe(0.001);
    expect(normalizeOptimizer(undefined)).toStrictEqual({ native: { type: 'adam' }, lr: 0.001, schedule: { type: 'constant' } });
    expect(normalizeOptimizer({ type: 'sgd' })).toStrictEqual({ native: { type: 'sgd' }, lr: 0.01, schedule: { type: 'constant' } });
  });

  it('passes the optimizer options on without lr and schedule, which fit applies', () => {
    const schedule: LrSchedule = { type: 'step', stepSize: 2, gamma: 0.5 };
    expect(normalizeOptimizer({ type: 'sgd', lr: 0.5, momentum: 0.9, nesterov: true, schedule }))
      .toStrictEqual({ native: { type: 'sgd', momentum: 0.9, nesterov: true }, lr: 0.5, schedule });
    expect(normalizeOptimizer({ type: 'rmsprop', rho: 0.8, epsilon: 1e-6 }).native).toStrictEqual({ type: 'rmsprop', rho: 0.8, epsilon: 1e-6 });
    expect(normalizeOptimizer({ type: 'adamw', beta1: 0.8, beta2: 0.99, epsilon: 1e-7, weightDecay: 0.1 }).native)
      .toStrictEqual({ type: 'adamw', beta1: 0.8, beta2: 0.99, epsilon: 1e-7, weightDecay: 0.1 });
  });

  it('names what is wrong, and lists the options each optimizer knows', () => {
    expect(normalizeOptimizer(null as never).native).toStrictEqual({ type: 'adam' });
    expect(message(() => normalizeOptimizer('adam' as never))).toBe("optimizer must be an object such as {type: 'adam', lr: 0.001}, got \"adam\"");
    expect(message(() => normalizeOptimizer({ type: 'lion' } as never))).toBe('optimizer.type must be one of "sgd", "rmsprop", "adam", "adamw", got "lion"');
    expect(message(() => normalizeOptimizer({ type: 'adam', lr: 0 }))).toBe('optimizer.lr must be a positive number, got 0');
    expect(message(() => normalizeOptimizer({ type: 'adam', lr: -1 }))).toBe('optimizer.lr must be a positive number, got -1');
    expect(message(() => normalizeOptimizer({ type: 'adam', momentum: 0.9 } as never)))
      .toBe('optimizer: unknown option "momentum" for adam; known options: lr, schedule, beta1, beta2, epsilon');
    expect(message(() => normalizeOptimizer({ type: 'adam', weightDecay: 0.1 } as never)))
      .toBe('optimizer: unknown option "weightDecay" for adam; known options: lr, schedule, beta1, beta2, epsilon');
    expect(message(() => normalizeOptimizer({ type: 'sgd', rho: 0.9 } as never))).toBe('optimizer: unknown option "rho" for sgd; known options: lr, schedule, momentum, nesterov');
    expect(message(() => normalizeOptimizer({ type: 'rmsprop', beta1: 0.9 } as never))).toBe('optimizer: unknown option "beta1" for rmsprop; known options: lr, schedule, rho, epsilon');
    expect(message(() => normalizeOptimizer({ type: 'adamw', nesterov: true } as never)))
      .toBe('optimizer: unknown option "nesterov" for adamw; known options: lr, schedule, beta1, beta2, epsilon, weightDecay');
    expect(message(() => normalizeOptimizer({ type: 'adam', schedule: { type: 'step', stepSize: 0, gamma: 0.5 } })))
      .toBe('optimizer.schedule.stepSize must be a positive integer (epochs), got 0');
  });
});

describe('options for the native trainer', () => {
  it('defaults: the loss for the targets, Adam, the threads given, seed 1; nothing else set', () => {
    expect(nativeOptions({}, 'values', 3)).toStrictEqual({ loss: { type: 'mse' }, optimizer: { type: 'adam' }, threads: 3, seed: 1 });
    expect(nativeOptions({}, 'labels', 1).loss).toStrictEqual({ type: 'crossentropy' });
  });

  it('passes every option on, the boundaries of each range included', () => {
    const l2 = { input: 0.1, recurrent: 0.2, bias: 0.3 };
    expect(nativeOptions({ clipNorm: 0, clipValue: 0, l2, outputDropout: 0, tbptt: 0, stateful: false, device: 'auto', seed: 0 }, 'values', 2))
      .toStrictEqual({ loss: { type: 'mse' }, optimizer: { type: 'adam' }, threads: 2, seed: 0, clipNorm: 0, clipValue: 0, l2, outputDropout: 0, tbptt: 0, stateful: false, device: 'auto' });
    const o = nativeOptions({ clipNorm: 2.5, clipValue: 0.5, outputDropout: 0.999, tbptt: 4, stateful: true, device: 'cpu', seed: 7, loss: 'mae', optimizer: { type: 'sgd', momentum: 0.5 } }, 'values', 1);
    expect(o).toStrictEqual({ loss: { type: 'mae' }, optimizer: { type: 'sgd', momentum: 0.5 }, threads: 1, seed: 7, clipNorm: 2.5, clipValue: 0.5, outputDropout: 0.999, tbptt: 4, stateful: true, device: 'cpu' });
    expect(nativeOptions({ device: 'cuda' }, 'values', 1).device).toBe('cuda');
  });

  it('names the field, the value and the range', () => {
    const bad = (o: object) => message(() => nativeOptions(o as never, 'values', 1));
    expect(bad({ clipNorm: -1 })).toBe('clipNorm must be a number >= 0, got -1');
    expect(bad({ clipValue: -0.5 })).toBe('clipValue must be a number >= 0, got -0.5');
    expect(bad({ outputDropout: 1 })).toBe('outputDropout must be a number in [0, 1), got 1');
    expect(bad({ outputDropout: -0.1 })).toBe('outputDropout must be a number in [0, 1), got -0.1');
    expect(bad({ tbptt: 1.5 })).toBe('tbptt must be a non-negative integer, got 1.5');
    expect(bad({ tbptt: -1 })).toBe('tbptt must be a non-negative integer, got -1');
    expect(bad({ stateful: 1 })).toBe('stateful must be a boolean, got 1');
    expect(bad({ device: 'gpu' })).toBe('device must be one of "cpu", "cuda", "cuda-emulated", "auto", got "gpu"');
    expect(bad({ seed: -1 })).toBe('seed must be a non-negative integer, got -1');
    expect(bad({ seed: 0.5 })).toBe('seed must be a non-negative integer, got 0.5');
  });

  it('emulate: "float" or "double", and only with device "cuda-emulated"', () => {
    for (const emulate of ['float', 'double'] as const) expect(nativeOptions({ device: 'cuda-emulated', emulate }, 'values', 1).emulate).toBe(emulate);
    expect(nativeOptions({ device: 'cuda-emulated' }, 'values', 1).emulate).toBeUndefined();
    const bad = (o: object) => message(() => nativeOptions(o as never, 'values', 1));
    expect(bad({ device: 'cuda-emulated', emulate: 'half' })).toBe('emulate must be "float" or "double", got "half"');
    expect(bad({ emulate: 'float' })).toBe('emulate applies to device "cuda-emulated" only, got device "cpu"');
    expect(bad({ device: 'cuda', emulate: 'double' })).toBe('emulate applies to device "cuda-emulated" only, got device "cuda"');
  });
});

describe('learning-rate schedules', () => {
  it('step: lr · gamma^floor(epoch / stepSize), whatever the fraction of the epoch', () => {
    const s: LrSchedule = { type: 'step', stepSize: 3, gamma: 0.5 };
    expect([0, 1, 2, 3, 5, 6].map((e) => learningRate(s, 2, e, 0.99, 10))).toEqual([2, 2, 2, 1, 1, 0.5]);
  });

  it('exponential: lr · gamma^(epoch + fraction)', () => {
    expect(learningRate({ type: 'exponential', gamma: 0.25 }, 3, 1, 0.5, 10)).toBeCloseTo(3 * 0.125, 14);
    expect(learningRate({ type: 'exponential', gamma: 0.25 }, 3, 0, 0, 10)).toBe(3);
  });

  it('cosine: linear warm-up, then from lr down to minLr over the remaining epochs, then minLr', () => {
    const s: LrSchedule = { type: 'cosine', epochs: 4, minLr: 0.2, warmupEpochs: 1 };
    // Warm-up: lr · e / warmupEpochs (the first step is a hair above 0, never 0).
    expect(learningRate(s, 1, 0, 0.5, 99)).toBeCloseTo(0.5, 8);
    expect(learningRate(s, 1, 0, 0, 99)).toBeGreaterThan(0);
    expect(learningRate(s, 1, 0, 0, 99)).toBeLessThan(1e-8);
    // After warm-up, over span 3: p = (e - 1) / 3; min + (lr - min)(1 + cos(pi p)) / 2.
    expect(learningRate(s, 1, 1, 0, 99)).toBeCloseTo(1, 12);
    expect(learningRate(s, 1, 2, 0.5, 99)).toBeCloseTo(0.6, 12);
    expect(learningRate(s, 1, 3, 0.25, 99)).toBeCloseTo(0.2 + 0.4 * (1 + Math.cos((Math.PI * 2.25) / 3)), 12);
    expect(learningRate(s, 1, 4, 0, 99)).toBeCloseTo(0.2, 12);
    expect(learningRate(s, 1, 6, 0, 99)).toBeCloseTo(0.2, 12); // past the end: stays at minLr
    // Two warm-up epochs: half the rate after one.
    expect(learningRate({ type: 'cosine', warmupEpochs: 2 }, 1, 1, 0, 10)).toBeCloseTo(0.5, 8);
    expect(learningRate({ type: 'cosine', warmupEpochs: 2 }, 1, 0, 0.5, 10)).toBeCloseTo(0.25, 8);
    // Defaults: epochs = the fit's, minLr 0, no warm-up.
    expect(learningRate({ type: 'cosine' }, 2, 2, 0.5, 10)).toBeCloseTo(1 + Math.cos(Math.PI * 0.25), 12);
    // Warm-up as long as the schedule: lr at its end, minLr after.
    expect(learningRate({ type: 'cosine', epochs: 2, warmupEpochs: 2, minLr: 0.1 }, 1, 2, 0, 99)).toBeCloseTo(1, 12);
    expect(learningRate({ type: 'cosine', epochs: 2, warmupEpochs: 2, minLr: 0.1 }, 1, 3, 0, 99)).toBeCloseTo(0.1, 12);
  });

  it('checkSchedule accepts the documented forms and names the bad field', () => {
    for (const s of [
      { type: 'constant' }, { type: 'step', stepSize: 1, gamma: 1e-9 }, { type: 'exponential', gamma: 0.9 },
      { type: 'cosine' }, { type: 'cosine', epochs: 1, minLr: 0, warmupEpochs: 0 },
    ]) expect(message(() => checkSchedule(s as LrSchedule))).toBe('(no error)');
    const bad = (s: unknown) => message(() => checkSchedule(s as LrSchedule));
    expect(bad(null)).toBe('optimizer.schedule.type must be an object, got null');
    expect(bad('cosine')).toBe('optimizer.schedule.type must be an object, got "cosine"');
    expect(bad({ type: 'exponential', gamma: 0 })).toBe('optimizer.schedule.gamma must be a positive number, got 0');
    expect(bad({ type: 'linear' })).toBe('optimizer.schedule.type must be one of "constant", "step", "exponential", "cosine", got "linear"');
    expect(bad({ type: 'step', stepSize: 0, gamma: 0.5 })).toBe('optimizer.schedule.stepSize must be a positive integer (epochs), got 0');
    expect(bad({ type: 'step', stepSize: 1.5, gamma: 0.5 })).toBe('optimizer.schedule.stepSize must be a positive integer (epochs), got 1.5');
    expect(bad({ type: 'step', stepSize: 2, gamma: 0 })).toBe('optimizer.schedule.gamma must be a positive number, got 0');
    expect(bad({ type: 'step', stepSize: 2 })).toBe('optimizer.schedule.gamma must be a positive number, got undefined');
    expect(bad({ type: 'exponential', gamma: -1 })).toBe('optimizer.schedule.gamma must be a positive number, got -1');
    expect(bad({ type: 'cosine', epochs: 0 })).toBe('optimizer.schedule.epochs must be a positive integer, got 0');
    expect(bad({ type: 'cosine', epochs: 2.5 })).toBe('optimizer.schedule.epochs must be a positive integer, got 2.5');
    expect(bad({ type: 'cosine', minLr: -0.1 })).toBe('optimizer.schedule.minLr must be a number >= 0, got -0.1');
    expect(bad({ type: 'cosine', warmupEpochs: -1 })).toBe('optimizer.schedule.warmupEpochs must be a number >= 0, got -1');
  });
});
