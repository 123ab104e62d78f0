// Public API of enkf-wasm.
export { loadModule, hostHasSimd, defaultModuleUrl } from './wasm.js';
export type { RawExports, EnkfModule, LoadOptions, WasmSource } from './wasm.js';
export { Workspace, Buf } from './workspace.js';
export type { DType } from './workspace.js';
export { KernelError, NotPositiveDefiniteError, OptimizationError, FormatError } from './errors.js';
export type {
  Evaluator, Objective, LossKind, EvaluationRequest, IterationDiagnostics, StepOptions, Optimizer, StopReason,
  SigmaSchedule, NlbOptions, EkiOptions,
} from './optimizers/types.js';
export { LeastSquares, CrossEntropy } from './optimizers/objectives.js';
export { Nlb, createNlb, NLB_DEFAULTS } from './optimizers/nlb.js';
export { Eki, createEki, EKI_DEFAULTS } from './optimizers/eki.js';
export type { StopCriteria } from './optimizers/driver.js';
export { Stopper, resolveStopCriteria } from './optimizers/driver.js';
export { minimize, createAskTell, AskTell, CallbackEvaluator, MinimizeError } from './optimizers/minimize.js';
export type { ForwardFunction, MinimizeOptions, MinimizeResult, ProblemOptions, AskTellOptions } from './optimizers/minimize.js';
