// Learning-rate schedules, computed in TypeScript and passed to the native step each call.

export type LrSchedule =
  /** lr throughout. */
  | { type: 'constant' }
  /** lr · gamma^floor(epoch / stepSize). */
  | { type: 'step'; stepSize: number; gamma: number }
  /** lr · gamma^(epoch + fraction of the epoch done). */
  | { type: 'exponential'; gamma: number }
  /** Cosine from lr to minLr over `epochs` (default: the fit's epochs), after `warmupEpochs` of linear warm-up. */
  | { type: 'cosine'; epochs?: number; minLr?: number; warmupEpochs?: number };

export function checkSchedule(s: LrSchedule): void {
  const bad = (field: string, v: unknown, expected: string) => {
    throw new Error(`optimizer.schedule.${field} must be ${expected}, got ${JSON.stringify(v)}`);
  };
  if (s === null || typeof s !== 'object') bad('type', s, 'an object');
  switch (s.type) {
    case 'constant':
      return;
    case 'step':
      if (!Number.isInteger(s.stepSize) || s.stepSize < 1) bad('stepSize', s.stepSize, 'a positive integer (epochs)');
      if (!(s.gamma > 0)) bad('gamma', s.gamma, 'a positive number');
      return;
    case 'exponential':
      if (!(s.gamma > 0)) bad('gamma', s.gamma, 'a positive number');
      return;
    case 'cosine':
      if (s.epochs !== undefined && !(Number.isInteger(s.epochs) && s.epochs >= 1)) bad('epochs', s.epochs, 'a positive integer');
      if (s.minLr !== undefined && !(s.minLr >= 0)) bad('minLr', s.minLr, 'a number >= 0');
      if (s.warmupEpochs !== undefined && !(s.warmupEpochs >= 0)) bad('warmupEpochs', s.warmupEpochs, 'a number >= 0');
      return;
    default:
      bad('type', (s as { type: unknown }).type, 'one of "constant", "step", "exponential", "cosine"');
  }
}

/** Learning rate at `epoch` (0-based) + `fraction` (0..1) of it, for a fit of `totalEpochs`. */
export function learningRate(s: LrSchedule, lr: number, epoch: number, fraction: number, totalEpochs: number): number {
  switch (s.type) {
    case 'constant':
      return lr;
    case 'step':
      return lr * s.gamma ** Math.floor(epoch / s.stepSize);
    case 'exponential':
      return lr * s.gamma ** (epoch + fraction);
    case 'cosine': {
      const e = epoch + fraction;
      const warm = s.warmupEpochs ?? 0;
      if (e < warm) return (lr * (e + 1e-9)) / warm;
      const span = Math.max(1e-9, (s.epochs ?? totalEpochs) - warm);
      const p = Math.min(1, (e - warm) / span);
      const min = s.minLr ?? 0;
      return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * p));
    }
  }
}
