// fit(): mini-batch training of a classifier (mlp() or sequential()) with forward passes only (docs/method.md §2 NLB, the
// default; §3 EKI; any process of bindings/optimizers/registry.ts), in the spirit of tfjs
// model.fit. This file assembles one training run: the plan (fit-plan.ts: every option and the
// data checked first), the module's optimizer, evaluator and objective, and the run core with
// fit's batch feeder and hooks (fit-train.ts); everything is freed (and worker threads ended)
// however the run ends. The public types are in fit-types.ts.
import { defaultModule } from '../wasm.js';
import { Workspace } from '../workspace.js';
import type { Optimizer } from '../optimizers/types.js';
import { CrossEntropy } from '../optimizers/objectives.js';
import { createOptimizer } from '../optimizers/registry.js';
import { ParallelMlpEvaluator, WorkerAbortError } from './parallel.js';
import { membersPerCall, withNetworkBlocks } from './lowrank-evaluator.js';
import { LastLayerSolver } from './lastlayer.js';
import type { LabelInput, MatrixInput } from './matrix.js';
import { createEvaluator, evaluatorSpec, modelBlocks, type Model, type ModelEvaluator } from './model.js';
import { isSequential } from './sequential.js';
import { plan, type Plan } from './fit-plan.js';
import { train } from './fit-train.js';
import type { FitOptions, History } from './fit-types.js';

export { FitError } from './fit-types.js';
export type {
  CallbackResult, EarlyStoppingOptions, EpochLog, FitCallbacks, FitIteration, FitOptions, FitStopCriteria, FitStopReason, History,
  OptimizerKind, ValidationLog,
} from './fit-types.js';
export { FIT_NLB_DEFAULTS } from '../optimizers/nlb.js';
export { FIT_EKI_DEFAULTS } from '../optimizers/eki.js';

/**
 * Trains `model` on (x, labels) with forward passes only and returns the History of every
 * iteration. The model's θ is updated in place (to the best parameters with
 * earlyStopping.restoreBest) and model.trainingState is set so that training can resume.
 * The model (and its parameters' finiteness), data shapes, label range and finiteness are checked
 * before anything runs; a model another fit() call is still training is refused.
 */
export async function fit(model: Model, x: MatrixInput, labels: LabelInput, options: FitOptions = {}): Promise<History> {
  const p = plan(model, x, labels, options);
  if (training.has(model)) {
    throw new Error('fit: this model is already being trained by another fit() call, which would overwrite its parameters. ' +
      'Await that call (or stop it with its signal) first, or train another model.');
  }
  training.add(model);
  try {
    return await fitPlanned(p);
  } finally {
    training.delete(model);
  }
}

// The models a fit() call is training (a second call on one of them is refused).
const training = new WeakSet<Model>();

async function fitPlanned(p: Plan): Promise<History> {
  const model = p.model;
  const module = p.module ?? await defaultModule();
  model.module ??= module;
  const ws = new Workspace(module);
  let opt: Optimizer | undefined;
  let lastLayer: LastLayerSolver | undefined;
  let evaluator: ModelEvaluator | ParallelMlpEvaluator | undefined;
  let objective: CrossEntropy | undefined;
  try {
    // A resumed run continues from the optimizer's saved state (NLB's θ_t, EKI's ensemble), not from
    // the model's θ, which may hold the restored best or the iterate average instead.
    opt = createOptimizer(p.process, ws, model.params, withNetworkBlocks(p.optimizerOptions, modelBlocks(model)), p.saved?.optimizerState);
    const maxMembers = membersPerCall(p.optimizerOptions);
    const evaluatorOptions = evaluatorSpec(model, p.batchSize, maxMembers);
    // An abort while the workers start ends their start-up; the run then stops before any
    // evaluation, so the main-thread evaluator stands in.
    evaluator = p.workers > 0
      ? await ParallelMlpEvaluator.create(module, evaluatorOptions, p.data, p.workers, { signal: p.signal }).catch((e) => {
        if (e instanceof WorkerAbortError) return createEvaluator(module, evaluatorOptions);
        throw e;
      })
      : createEvaluator(module, evaluatorOptions);
    objective = new CrossEntropy(ws, model.classes, new Int32Array(p.batchSize));
    if (p.exactLastLayer) {
      // a sequential model's activations are in its placement (the activation argument is an MLP's)
      lastLayer = isSequential(model)
        ? new LastLayerSolver(module, model.placement, 'tanh', p.data, p.labels)
        : new LastLayerSolver(module, model.layers, model.activation, p.data, p.labels);
    }
    return await train(p, opt, lastLayer, evaluator, objective);
  } finally {
    // Worker threads are terminated (and awaited) whether training ended, threw or was aborted —
    // first, so that an evaluation an abort abandoned ends before the buffers it writes are freed.
    // A ref'd timer holds the event loop open meanwhile: an idle worker is unref'd, and the exit of
    // a terminated one alone does not keep the process alive (fit would never return).
    const hold = evaluator instanceof ParallelMlpEvaluator ? setInterval(() => undefined, 60_000) : undefined;
    try {
      if (evaluator instanceof ParallelMlpEvaluator) await evaluator.close();
      else evaluator?.dispose();
    } finally {
      clearInterval(hold);
      opt?.dispose();
      lastLayer?.dispose();
      objective?.dispose();
      ws.dispose();
    }
  }
}
