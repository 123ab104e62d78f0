// enkf-wasm/internal — UNSTABLE: no semver promise. Names here may change or disappear in any
// release. It exposes the building blocks under the public API (optimizer classes, objectives,
// evaluators, the model codec, RNG helpers, memory accounting) for this package's own tests and
// benchmarks, and for experiments. Applications should import 'enkf-wasm'.
export * from './wasm.js';
export * from './workspace.js';
export * from './errors.js';
export * from './optimizers/types.js';
export * from './optimizers/objectives.js';
export * from './optimizers/driver.js';
export * from './optimizers/nlb.js';
export * from './optimizers/eki.js';
export * from './optimizers/minimize.js';
export * from './nn/matrix.js';
export * from './nn/mlp.js';
export * from './nn/random.js';
export * from './nn/evaluator.js';
export * from './nn/layers.js';
export * from './nn/sequential.js';
export * from './nn/seq-evaluator.js';
export * from './nn/model.js';
export * from './nn/lastlayer.js';
export * from './nn/parallel.js';
export * from './nn/fit.js';
export * from './nn/serialize.js';
