// Public API of enkf-wasm.
export { loadModule, hostHasSimd, defaultModuleUrl } from './wasm.js';
export type { RawExports, EnkfModule, LoadOptions, WasmSource } from './wasm.js';
export { Workspace, Buf } from './workspace.js';
export type { DType } from './workspace.js';
export { KernelError, NotPositiveDefiniteError, OptimizationError, FormatError } from './errors.js';
export type {
  Evaluator, Objective, LossKind, EvaluationRequest, IterationDiagnostics, StepOptions, Optimizer, StopReason,
  SigmaSchedule, NlbOptions, EkiOptions, OptimizerState, NlbState, EkiState,
} from './optimizers/types.js';
export { LeastSquares, CrossEntropy } from './optimizers/objectives.js';
export { Nlb, createNlb, NLB_DEFAULTS, defaultEnsembleSize } from './optimizers/nlb.js';
export { Eki, createEki, EKI_DEFAULTS } from './optimizers/eki.js';
export type { StopCriteria } from './optimizers/driver.js';
export { Stopper, resolveStopCriteria } from './optimizers/driver.js';
export { minimize, createAskTell, AskTell, CallbackEvaluator, MinimizeError } from './optimizers/minimize.js';
export type { ForwardFunction, MinimizeOptions, MinimizeResult, ProblemOptions, AskTellOptions } from './optimizers/minimize.js';
export { MLP, mlp, parameterLayout, parameterCount, initialParameters, crossEntropy, argmaxRows, ACTIVATION_CODE } from './nn/mlp.js';
export type { Activation, InitScheme, MlpOptions, LayerSlice, Evaluation } from './nn/mlp.js';
export type { MatrixInput, LabelInput, Matrix } from './nn/matrix.js';
export { MlpEvaluator } from './nn/evaluator.js';
export type { MlpEvaluatorOptions } from './nn/evaluator.js';
export { fit, FitError, FIT_NLB_DEFAULTS, FIT_EKI_DEFAULTS } from './nn/fit.js';
export type { FitOptions, FitCallbacks, FitIteration, EpochLog, ValidationLog, History, FitStopReason, EarlyStoppingOptions, OptimizerKind, CallbackResult } from './nn/fit.js';
export { encodeModel, decodeModel, saveModel, loadModel, modelToBlob, crc32, FORMAT_VERSION } from './nn/serialize.js';
export { loadMnist, mnistSplit, stratifiedSplit, takeDigits, MNIST_FEATURES, MNIST_SIDE, MNIST_CLASSES } from './data/mnist.js';
export type { DigitSet, MnistSplit } from './data/mnist.js';
export { ParallelMlpEvaluator, WorkerError, liveWorkerCount, MAX_WORKERS } from './nn/parallel.js';
