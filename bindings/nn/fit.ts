// fit(): mini-batch training of an MLP classifier with forward passes only (docs/method.md §2 NLB, the
// default; §3 EKI; any process of bindings/optimizers/registry.ts), in the spirit of tfjs
// model.fit. This file assembles one training run: the plan (fit-plan.ts: every option and the
// data checked first), the module's optimizer, evaluator and objective, and the run core with
// fit's batch feeder and hooks (fit-train.ts); everything is freed (and worker threads ended)
// however the run ends. The public types are in fit-types.ts.
import { loadModule } from '../wasm.js';
import { Workspace } from '../workspace.js';
import type { Optimizer } from '../optimizers/types.js';
import { CrossEntropy } from '../optimizers/objectives.js';
import { createOptimizer } from '../optimizers/registry.js';
import { MlpEvaluator } from './evaluator.js';
import { ParallelMlpEvaluator } from './parallel.js';
import { membersPerCall, withNetworkBlocks } from './lowrank-evaluator.js';
import { LastLayerSolver } from './lastlayer.js';
import type { LabelInput, MatrixInput } from './matrix.js';
import type { MLP } from './mlp.js';
import { plan } from './fit-plan.js';
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
 * Data shapes, label range and finiteness are checked before anything runs.
 */
export async function fit(model: MLP, x: MatrixInput, labels: LabelInput, options: FitOptions = {}): Promise<History> {
  const p = plan(model, x, labels, options);
  const module = options.module ?? model.module ?? await loadModule();
  model.module ??= module;
  const ws = new Workspace(module);
  let opt: Optimizer | undefined;
  let lastLayer: LastLayerSolver | undefined;
  let evaluator: MlpEvaluator | ParallelMlpEvaluator | undefined;
  let objective: CrossEntropy | undefined;
  try {
    // A resumed run continues from the optimizer's saved state (NLB's θ_t, EKI's ensemble), not from
    // the model's θ, which may hold the restored best or the iterate average instead.
    opt = createOptimizer(p.process, ws, model.params, withNetworkBlocks(p.optimizerOptions, model.layers), p.saved?.optimizerState);
    const maxMembers = membersPerCall(p.optimizerOptions);
    const evaluatorOptions = { layers: model.layers, activation: model.activation, batchSize: p.batchSize, maxMembers };
    evaluator = p.workers > 0
      ? await ParallelMlpEvaluator.create(module, evaluatorOptions, p.data, p.workers)
      : new MlpEvaluator(module, evaluatorOptions);
    objective = new CrossEntropy(ws, model.classes, new Int32Array(p.batchSize));
    if (p.exactLastLayer) lastLayer = new LastLayerSolver(module, model.layers, model.activation, p.data, p.labels);
    return await train(p, opt, lastLayer, evaluator, objective);
  } finally {
    opt?.dispose();
    lastLayer?.dispose();
    objective?.dispose();
    // Worker threads are terminated (and awaited) whether training ended, threw or was aborted.
    if (evaluator instanceof ParallelMlpEvaluator) await evaluator.close();
    else evaluator?.dispose();
    ws.dispose();
  }
}
