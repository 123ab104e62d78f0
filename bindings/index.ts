// Public API of enkf-wasm: exactly what the README documents. Everything else (optimizer classes,
// evaluators, the model codec, helpers for tests and benchmarks) is in enkf-wasm/internal, which
// has no stability promise. The MNIST digits are in enkf-wasm/mnist (bindings/data/mnist.ts).

// Kernels: the module and the memory it owns.
export { loadModule, setDefaultModule } from './wasm.js';
export type { RawExports, EnkfModule, LoadOptions, WasmSource } from './wasm.js';
export { Workspace, Buf } from './workspace.js';
export type { DType } from './workspace.js';

// Black-box fits.
export { minimize, createAskTell, MinimizeError } from './optimizers/minimize.js';
export type { AskTell, ForwardFunction, MinimizeOptions, MinimizeResult, ProblemOptions, AskTellOptions } from './optimizers/minimize.js';
export type { IterationDiagnostics, StopReason, LossKind, NlbOptions, EkiOptions, SigmaSchedule } from './optimizers/types.js';

// Networks.
export { mlp, argmaxRows } from './nn/mlp.js';
export type { MLP, Activation, InitScheme, MlpOptions, Evaluation } from './nn/mlp.js';
export { sequential, Sequential } from './nn/sequential.js';
export type { SequentialOptions } from './nn/sequential.js';
export { dense, conv2d, maxPool2d, avgPool2d, flatten } from './nn/layers.js';
export type {
  Layer, LayerActivation, DenseLayer, Conv2dLayer, Pool2dLayer, FlattenLayer, DenseOptions, Conv2dOptions, Pool2dOptions, QuantizeOptions,
  InputShape, SeqArchitecture,
} from './nn/layers.js';
export type { Model } from './nn/model.js';
export type { MatrixInput, LabelInput } from './nn/matrix.js';
export { fit, FitError, FIT_NLB_DEFAULTS, FIT_EKI_DEFAULTS } from './nn/fit.js';
export type {
  FitOptions, FitCallbacks, FitIteration, EpochLog, ValidationLog, History, FitStopReason, EarlyStoppingOptions, OptimizerKind,
  CallbackResult, FitStopCriteria,
} from './nn/fit.js';
export { MAX_WORKERS, WorkerError } from './nn/parallel.js';
export { saveModel, loadModel, modelToBlob, ModelFileError } from './nn/serialize.js';

// Errors.
export { KernelError, NotPositiveDefiniteError, OptimizationError, FormatError } from './errors.js';
