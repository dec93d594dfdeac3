// The CLI's bridge to the trainer (src/train): runs `fit` with progress hooks, and sorts its
// errors: bad options or data (rejected before the first step) and a diverging run are the
// user's to fix (exit 1); anything else is a bug (exit 2).

import type { SequenceDataset } from '../data/dataset.js';
import type { Model } from '../model/model.js';
import { fit, type FitOptions, type History } from '../train/index.js';
import { UserError } from '../data/errors.js';
import type { EpochStats } from './progress.js';

export interface TrainingHooks {
  epochBegin(): void;
  /** epoch from 0, step from 1. */
  batch(epoch: number, step: number, loss: number): void;
  epochEnd(s: EpochStats): void;
}

export async function runTraining(
  model: Model,
  train: SequenceDataset,
  validation: SequenceDataset | undefined,
  training: Record<string, unknown>,
  hooks: TrainingHooks,
  where: string,
): Promise<History> {
  let steps = 0;
  let began = -1;
  const options = {
    ...training,
    ...(validation ? { validation } : {}),
    callbacks: {
      onBatchEnd: (l: { epoch: number; batch: number; loss: number }) => {
        if (l.epoch !== began) {
          began = l.epoch;
        }
        steps++;
        hooks.batch(l.epoch, l.batch + 1, l.loss);
      },
      onEpochEnd: (l: { epoch: number; loss: number; valLoss?: number; accuracy?: number; valAccuracy?: number; seconds: number; steps: number }) => {
        hooks.epochEnd({ epoch: l.epoch, loss: l.loss, valLoss: l.valLoss, accuracy: l.accuracy, valAccuracy: l.valAccuracy, seconds: l.seconds, stepsPerSec: l.steps / Math.max(l.seconds, 1e-9) });
        hooks.epochBegin();
      },
    },
  } as FitOptions;
  hooks.epochBegin();
  try {
    return await fit(model, train, options);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === 'RNNX_NON_FINITE') {
      throw new UserError(`training diverged: ${err.message}; lower training.optimizer.lr or set training.clipNorm`, { cause: e });
    }
    if (steps === 0) throw new UserError(`${where}: training: ${err.message}`, { cause: e });
    throw e;
  }
}
