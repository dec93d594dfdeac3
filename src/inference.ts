// rnnx/inference: the inference side of rnnx — layer specs, ONNX export and file reading,
// onnxruntime-node sessions, serving, data loaders. Importing it loads no training code and never
// loads the native addon, so it works where the addon is missing (tests/import-graph.test.ts
// checks that). The root entry ('rnnx') re-exports all of this plus the Model class and training.
export { rnn, lstm, gru, dense, normalizeModelSpec } from './layers/spec.js';
export type {
  Direction, LayerSpec, ModelSpec, RnnLayerSpec, LstmLayerSpec, GruLayerSpec, DenseLayerSpec,
  RnnOptions, LstmOptions, GruOptions, DenseOptions,
} from './layers/spec.js';
export { paramLayout } from './layers/params.js';
export type { ParamLayout, TensorSlot } from './layers/params.js';
export type { ModelData, ModelMetadata, Normalization } from './model/types.js';
// ONNX export, save and load as plain ModelData (src/graph). onnx-proto's types stay internal.
export { toOnnx, resolveExportOptions, initializerName, rnnxVersion, META as ONNX_METADATA_KEYS } from './graph/export.js';
export type { ExportOptions, ResolvedExportOptions } from './graph/export.js';
export { saveModel, readModelFile, writeFileAtomic } from './graph/io.js';
export type { RnnxFileInfo } from './graph/io.js';
// Foreign ONNX RNN graphs (PyTorch exports...) become trainable through Model.load / Model.fromOnnx.
export { OnnxImportError, IMPORT_META } from './graph/import.js';
export type { ImportInfo, ImportCheck } from './graph/import.js';
// Triton model repository export (config.pbtxt + model.onnx).
export { tritonConfig, tritonGraph } from './graph/triton.js';
export type { TritonOptions } from './graph/triton.js';
// Inference with onnxruntime-node (src/runtime).
export { InferenceModel, flattenInput } from './runtime/inference.js';
export type { OpenOptions, RunOptions, RunResult, RunInput, LayerState, StateSlot } from './runtime/inference.js';
export { chooseProvider, providerIssue, probeBackends, DEFAULT_PROVIDERS, PROVIDER_NAMES, ATTRIBUTE_IGNORING_PROVIDERS, ProviderUnavailableError, GPU_INSTALL_HINT } from './runtime/providers.js';
export type { ProviderName, ProviderFallback, RecurrentNodeInfo, BackendAvailability } from './runtime/providers.js';
// Serving: dynamic batching, stateful streams, worker pool, HTTP server (src/serve).
export { Batcher, toSequence } from './serve/batcher.js';
export type { BatcherOptions, PredictOptions, PredictResult, BatchEvent, SequenceInput } from './serve/batcher.js';
export { Stream, StreamManager, openStream, checkStreamable, StreamUnsupportedError, StreamNotFoundError } from './serve/stream.js';
export type { StreamManagerOptions } from './serve/stream.js';
export { InferenceService, openService } from './serve/service.js';
export type { ServiceOptions, Units, ServicePredictOptions, StateStepResult } from './serve/service.js';
export { createRequestHandler } from './serve/handler.js';
export type { HandlerOptions, RequestHandler } from './serve/handler.js';
export { serveMetrics, newRegistry, addDefaultMetrics } from './serve/metrics.js';
export { OIP_VERSION } from './serve/v2.js';
export { openEngine, prepareGraphs, serveInfo, DEFAULT_WORKERS, MAX_WORKERS } from './serve/engine.js';
export type { EngineOptions, ServeEngine } from './serve/engine.js';
export { startServer, resolveModels } from './serve/http.js';
export type { ServerOptions, RunningServer, ModelEntry } from './serve/http.js';
export { ServeError, OverloadedError, TimeoutError, CancelledError, ShuttingDownError, BadRequestError } from './serve/errors.js';
export type { ServeErrorCode } from './serve/errors.js';
export type { Runner, RunRequest as ServeRunRequest, RunResult as ServeRunResult, ServeModelInfo } from './serve/types.js';
// Data loaders (src/data).
export { validateDataset } from './data/dataset.js';
export type { SequenceDataset } from './data/dataset.js';
export { UserError, isUserError } from './data/errors.js';
export { parseCsv, readNumericTable } from './data/csv.js';
export type { CsvRecords, ParseCsvOptions, NumericTable, NumericTableOptions, ColumnRef } from './data/csv.js';
export {
  loadCsvSeries, computeNormalization, makeWindows, makeStatefulWindows, statefulStarts, transformSeries, invertTransform,
} from './data/timeseries.js';
export type { Series, WindowOptions, SeriesTransform } from './data/timeseries.js';
export { buildVocabulary, encodeText, textDataset, oneHot } from './data/text.js';
export type { TextDatasetOptions } from './data/text.js';
export { loadSequenceZip, readArchive } from './data/sequences.js';
export type { SequenceZipOptions, SequenceZipResult } from './data/sequences.js';
export { parseNpy, encodeNpy, parseJsonTensor, loadTensor } from './data/tensor.js';
export type { Tensor } from './data/tensor.js';
