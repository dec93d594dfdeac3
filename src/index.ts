// Public API of rnnx: the inference side (./inference.ts, also published alone as 'rnnx/inference')
// plus the trainable Model class and training on the native addon.
export * from './inference.js';
export { Model, loadModel, modelFromOnnx } from './model/model.js';
export type { CreateModelOptions, LayerParams } from './model/model.js';
export { NoNativeError } from './native.js';
// Training on the native fused step (src/train).
export { fit, Trainer, evaluate, predict, computeGradients, learningRate, splitDataset, gatherBatch, prepareDataset } from './train/index.js';
export type {
  FitOptions, History, EpochLogs, BatchLogs, EarlyStoppingOptions, CheckpointOptions, FitCallbacks, Evaluation, StepResult,
  TrainBatch, LrSchedule, TrainerOptions, OptimizerOptions, LossOption, LossName,
} from './train/index.js';
