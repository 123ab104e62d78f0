// fit()'s training: the run core (bindings/optimizers/run.ts) with a batch feeder before each
// iteration and fit's hooks after it — the log, the exact last layer, iterate averaging,
// validation, early stopping and callbacks, epochs. The stopping rules (budget, abort, the process
// options' tolerance / patience, the σ schedule's sigmaMin) and the yields to the event loop are the
// run core's. At every iteration boundary, before the callbacks run, the model holds the current
// parameters and training state (a checkpoint saved from a callback or a timer resumes exactly);
// finish() leaves them after the last completed iteration.
//
// Mini-batches: the index stream is the concatenation of per-epoch permutations
// epochPermutation(N, seed, e); iteration t trains on stream positions [tB, (t + 1)B). The batch of
// any iteration is therefore a pure function of (seed, t), and epoch e ends at the iteration whose
// batch reaches position (e + 1)N.
import type { Evaluator, Optimizer, OptimizerState } from '../optimizers/types.js';
import type { CrossEntropy } from '../optimizers/objectives.js';
import { Run, type HookResult } from '../optimizers/run.js';
import { epochPermutation } from './random.js';
import type { LastLayerSolver } from './lastlayer.js';
import type { Evaluation } from './mlp.js';
import { FIT_STATE_VERSION, type FitState, type Plan } from './fit-plan.js';
import { FitError, type EpochLog, type FitIteration, type FitStopReason, type History } from './fit-types.js';

/** An evaluator fed one mini-batch at a time (MlpEvaluator, ParallelMlpEvaluator). */
export interface BatchEvaluator extends Evaluator {
  setBatch(data: Float32Array, index: ArrayLike<number>): void;
}

/** The batch feeder: loads iteration t's rows into the evaluator and its labels into the objective. */
function batchFeeder(p: Plan, evaluator: BatchEvaluator, objective: CrossEntropy): (t: number) => void {
  const { rows: N, batchSize: B, seed } = p;
  const batchIndex = new Int32Array(B);
  const batchLabels = new Int32Array(B);
  let perm: Int32Array = new Int32Array(0);
  let permEpoch = -1;
  // Row at stream position q: the permutation of epoch ⌊q/N⌋ (cached for the current epoch).
  const rowAt = (q: number): number => {
    const e = Math.floor(q / N);
    if (e !== permEpoch) {
      perm = epochPermutation(N, seed, e);
      permEpoch = e;
    }
    return perm[q - e * N];
  };
  return (t) => {
    for (let i = 0; i < B; i++) {
      const r = rowAt(t * B + i);
      batchIndex[i] = r;
      batchLabels[i] = p.labels[r];
    }
    evaluator.setBatch(p.data, batchIndex);
    objective.setLabels(batchLabels);
  };
}

export async function train(p: Plan, opt: Optimizer, lastLayer: LastLayerSolver | undefined,
  evaluator: BatchEvaluator, objective: CrossEntropy): Promise<History> {
  const { model, rows: N, batchSize: B, seed, total, val, early: es, monitor, callbacks, saved } = p;
  const run = new Run<FitIteration, FitStopReason>(opt, objective, p.stop, saved?.iteration ?? 0, p.signal, p.yieldEvery);
  run.stopper.failures = saved?.failures ?? 0;
  // The patience rule's count after the last completed iteration (the run's stopper updates its
  // own only after the hooks, and not when an abort ends a pending hook).
  let failures = run.stopper.failures;
  // The optimizer's state after the last completed iteration: put back when an abort abandons one.
  let boundary: OptimizerState = opt.saveState();
  let forwardPasses = saved?.forwardPasses ?? 0;
  const elapsedBefore = saved?.elapsedMs ?? 0;
  let epochLossSum = saved?.epochLossSum ?? 0;
  let epochIterations = saved?.epochIterations ?? 0;
  // Copies of the saved records this run updates: the saved state stays as it was (it can be resumed again).
  const early = es ? (saved?.early ? { ...saved.early } : { best: Infinity, wait: 0, bestIteration: -1, bestParams: null }) : null;
  const history: History = {
    iterations: run.history, epochs: [], validation: [], stopReason: 'maxIterations', iteration: run.done, forwardPasses,
    elapsedMs: elapsedBefore, epoch: [], history: val ? { loss: [], val_loss: [], val_acc: [] } : { loss: [] },
  };
  const t0 = performance.now();
  const elapsed = () => elapsedBefore + performance.now() - t0;
  const feed = batchFeeder(p, evaluator, objective);
  // Iterate averaging (FitOptions.averaging): θ̄ starts as θ at iteration `start`.
  let average = saved?.average?.slice() ?? null;
  const current = new Float64Array(opt.n);
  const evaluated = (): Float64Array => average ?? opt.theta(current);
  const validate = (): Evaluation => {
    model.setParameters(evaluated());
    return model.evaluate({ data: val!.data, shape: [val!.rows, model.inputSize] }, val!.labels);
  };
  // Early stopping bookkeeping; true when patience ran out. Scores are "lower is better".
  const improve = (value: number, iteration: number): boolean => {
    const score = monitor === 'val_accuracy' ? -value : value;
    if (score < early!.best - (es!.minDelta ?? 0)) {
      early!.best = score;
      early!.wait = 0;
      early!.bestIteration = iteration;
      if (es!.restoreBest) early!.bestParams = evaluated().slice();
      return false;
    }
    early!.wait++;
    return early!.wait >= es!.patience;
  };

  // The training state after the last completed iteration with the optimizer's `optimizerState`;
  // copies of the records later iterations update.
  const state = (optimizerState: OptimizerState, elapsedMs: number): FitState => ({
    kind: 'enkf-wasm/fit', version: FIT_STATE_VERSION, optimizer: p.kind, optimizerOptions: p.optimizerOptions, optimizerState, seed,
    batchSize: B, rows: N, iteration: run.done, forwardPasses, elapsedMs, epochLossSum, epochIterations, failures,
    early: early && { ...early }, averaging: p.averaging ?? null, exactLastLayer: p.exactLastLayer ?? null, average: average && average.slice(),
  });
  // The iteration boundary: θ (O(n)) and the training state on the model, as finish() would leave them.
  const checkpoint = (): void => {
    boundary = opt.saveState();
    model.params.set(evaluated());
    model.trainingState = state(boundary, elapsed());
  };

  // After iteration t (already counted by the run): the log, fit's bookkeeping, the checkpoint,
  // then the callbacks.
  const after = async (log: FitIteration): Promise<HookResult<FitStopReason>> => {
    const t = run.done - 1;
    forwardPasses += log.evaluations;
    failures = log.accepted ? 0 : failures + 1;
    // The batch cross-entropy alone: Φ without the process's regularization term.
    const crossEntropy = log.loss - log.penalty;
    if (p.exactLastLayer && (t + 1) % p.exactLastLayer.every === 0) {
      // Same optimizer counters, θ with the exact last layer (the process's θ is its whole iterate).
      opt.setTheta!(lastLayer!.solve(opt.theta(current), p.exactLastLayer));
    }
    if (p.averaging && t >= p.averaging.start) {
      opt.theta(current);
      if (!average) average = current.slice();
      const beta = p.averaging.decay;
      for (let i = 0; i < average.length; i++) average[i] = beta * average[i] + (1 - beta) * current[i];
    }
    const epoch = Math.floor((t * B) / N);
    const epochEnds = Math.floor(((t + 1) * B) / N) > epoch;
    Object.assign(log, { epoch, forwardPasses, elapsedMs: 0, crossEntropy });
    epochLossSum += Number.isFinite(log.loss) ? log.loss : log.lossBefore;
    epochIterations++;
    let stop: FitStopReason | undefined;
    const due = p.validationEvery ? (t + 1) % p.validationEvery === 0 : epochEnds;
    if (val && (due || t + 1 === total)) {
      const v = validate();
      log.valLoss = v.loss;
      log.valAccuracy = v.accuracy;
      history.validation.push({ iteration: t, epoch, forwardPasses, elapsedMs: elapsed(), loss: v.loss, accuracy: v.accuracy });
      if (early && monitor !== 'loss' && improve(monitor === 'val_loss' ? v.loss : v.accuracy, t)) stop = 'earlyStopping';
    }
    let elog: EpochLog | undefined;
    let lossStop = false;
    if (epochEnds) {
      elog = { epoch, iteration: t, loss: epochLossSum / epochIterations, forwardPasses, elapsedMs: elapsed() };
      if (log.valLoss !== undefined) {
        elog.valLoss = elog.val_loss = log.valLoss;
        elog.valAccuracy = elog.val_acc = log.valAccuracy;
      }
      epochLossSum = 0;
      epochIterations = 0;
      history.epochs.push(elog);
      history.epoch.push(epoch);
      history.history.loss.push(elog.loss);
      history.history.val_loss?.push(elog.valLoss ?? NaN);
      history.history.val_acc?.push(elog.valAccuracy ?? NaN);
      lossStop = !!early && monitor === 'loss' && improve(elog.loss, t);
    }
    log.elapsedMs = elapsed();
    checkpoint();
    // the reasons in their order of precedence: validation, onIterationEnd, the epoch loss, onEpochEnd
    if (callbacks.onIterationEnd && (await callbacks.onIterationEnd(log)) === false) stop ??= 'callback';
    // aborted meanwhile: the run has ended (no epoch callback after it)
    if (p.signal?.aborted) return stop;
    if (lossStop) stop ??= 'earlyStopping';
    if (elog && callbacks.onEpochEnd && (await callbacks.onEpochEnd(elog.epoch, elog)) === false) stop ??= 'callback';
    return stop;
  };

  // The model and its training state after the last completed iteration (also when an iteration
  // failed: the optimizer keeps its last good estimate, so training can resume from there).
  const finish = (): void => {
    const restored = es?.restoreBest && early?.bestParams ? early.bestParams : null;
    model.setParameters(restored ?? evaluated());
    history.iteration = run.done;
    history.forwardPasses = forwardPasses;
    history.elapsedMs = elapsed();
    if (early && early.bestIteration >= 0) history.bestIteration = early.bestIteration;
    model.trainingState = state(opt.saveState(), history.elapsedMs);
  };

  try {
    history.stopReason = await run.drive(evaluator, {
      before: (t) => {
        feed(t);
        return { newBatch: true };
      },
      after,
      failed: (e) => {
        history.stopReason = 'error';
        return new FitError(run.done, history, e);
      },
      restore: () => opt.loadState(boundary),
    });
  } finally {
    finish();
  }
  return history;
}
