// The models fit(), saveModel and the workers take — mlp() and sequential() ones — and what each
// kind brings to training: the evaluator of its forward (MlpEvaluator keeps mlp() models' bits;
// SeqEvaluator runs sequential ones) and its weight blocks for rank-r members.
import type { EnkfModule } from '../wasm.js';
import type { Buf } from '../workspace.js';
import type { PerturbedRequest } from '../optimizers/types.js';
import { mlpBlocks } from '../optimizers/directions.js';
import { MlpEvaluator, type MlpEvaluatorOptions } from './evaluator.js';
import { SeqEvaluator, type SeqEvaluatorOptions } from './seq-evaluator.js';
import { isSequential, type Sequential } from './sequential.js';
import type { MLP } from './mlp.js';

/** A classifier fit() trains: from mlp() or sequential() (or loadModel()). */
export type Model = MLP | Sequential;

/** What builds a model's evaluator (on the main thread or in a worker): an MLP's layers and
 *  activation, or a sequential model's architecture. */
export type EvaluatorSpec = MlpEvaluatorOptions | SeqEvaluatorOptions;

/** The evaluators of both kinds: one mini-batch at a time, synchronous, disposable. */
export interface ModelEvaluator {
  readonly n: number;
  readonly m: number;
  readonly maxMembers: number;
  setBatch(data: Float32Array, index: ArrayLike<number>): void;
  evaluate(rows: Buf<'f64'>, count: number, out: Buf<'f64'>): void;
  evaluatePerturbed(request: PerturbedRequest, out: Buf<'f64'>): void;
  dispose(): void;
}

/** The evaluator spec of `model` for mini-batches of `batchSize` rows. */
export function evaluatorSpec(model: Model, batchSize: number, maxMembers: number): EvaluatorSpec {
  return isSequential(model)
    ? { architecture: model.architecture(), batchSize, maxMembers }
    : { layers: model.layers, activation: model.activation, batchSize, maxMembers };
}

export function createEvaluator(module: EnkfModule, spec: EvaluatorSpec): ModelEvaluator {
  return 'architecture' in spec ? new SeqEvaluator(module, spec) : new MlpEvaluator(module, spec);
}

/** The `blocks` of a low-rank perturbation for `model`: each weight shape followed by its bias shape. */
export function modelBlocks(model: Model): number[][] {
  return isSequential(model) ? model.blocks : mlpBlocks(model.layers);
}
