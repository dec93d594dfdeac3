// Training (native fused step): the public surface of src/train.
export { fit } from './fit.js';
export type { FitOptions, History, EpochLogs, BatchLogs, EarlyStoppingOptions, CheckpointOptions, FitCallbacks } from './fit.js';
export { Trainer, evaluate, predict, computeGradients, defaultLossFor } from './trainer.js';
export type { Evaluation, StepResult } from './trainer.js';
export { gatherBatch, prepareDataset, splitDataset } from './batches.js';
export type { TrainBatch, PreparedData } from './batches.js';
export { learningRate } from './schedule.js';
export type { LrSchedule } from './schedule.js';
export { defaultLr } from './options.js';
export type { TrainerOptions, OptimizerOptions, LossOption, LossName } from './options.js';
