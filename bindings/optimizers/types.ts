// The contracts of the optimizer layer: what a forward model (Evaluator) and a loss (Objective)
// must provide, what an optimizer step reports, and the options of both optimizers.
//
// Shapes: every matrix is row-major, one row per member. θ and every ensemble-space quantity is
// f64 (docs/method.md §5); a network may run its forward passes in f32 and widen the outputs.
//
// One iteration is driven as a generator of EvaluationRequests (optimizer.iterate), so the same
// core serves a synchronous evaluator (step), an asynchronous one (stepAsync, minimize) and a
// caller who evaluates members anywhere (ask/tell). A perturbed request is one object
// (PerturbedRequest) from the optimizer through the driver and the evaluator to a worker thread.
import type { Buf, Workspace } from '../workspace.js';
import type { Schedule } from './schedules.js';

/**
 * Members member0 … member0 + count − 1 of the draw `draw` around θ (docs/method.md §2.2–2.3):
 * member i is θ + σ·s_i·ξ_{q_i}, exactly the rows `perturb64/perturb32(count, n, sigma, seed, draw,
 * member0, antithetic ? 1 : 0, …)` write. With `center`, θ itself is row 0 before the members.
 * `draw` is the optimizer's RNG draw counter (one per draw, redraws included), not the iteration
 * number: pass it on unchanged. T: how θ travels (a wasm buffer, or a copy to a worker thread).
 */
export interface PerturbedRequest<T = Buf<'f64'>> {
  /** θ_t (f64 n; read only). */
  theta: T;
  sigma: number;
  seed: number;
  draw: number;
  member0: number;
  count: number;
  /** Antithetic pairs: members 2j, 2j + 1 share ξ_j with opposite signs. */
  antithetic: boolean;
  /** θ itself is evaluated first: the outputs hold count + 1 rows, row 0 = F(θ). */
  center: boolean;
  /** Rank-r members (bindings/optimizers/directions.ts); absent = Gaussian members. A fast path that
   *  cannot run these members must throw, not evaluate Gaussian ones. */
  perturbation?: LowRankPerturbation;
}

/**
 * Rank-r NLB directions over θ's weight blocks (assembly/lowrank-core.ts): shapes[l] = [fanIn, fanOut]
 * of block l, θ holding per block W (fanIn × fanOut, row-major) then b (fanOut). dims = [d_0, …, d_L]
 * only when the blocks chain as an MLP's do (shapes = [[d_0, d_1], [d_1, d_2], …]).
 */
export interface LowRankPerturbation {
  kind: 'low-rank';
  rank: number;
  shapes: readonly (readonly [number, number])[];
  dims?: readonly number[];
}

/**
 * A forward map F: R^n → R^m evaluated for many parameter vectors at once (docs/method.md §1).
 *
 * Both methods write `count × m` f64 outputs, row r for member r, into `out`. The buffers passed
 * in are views of the module's memory that belong to the optimizer: read `rows`/`theta`, write
 * `out`, keep neither after returning (or after the returned promise settles). A member whose
 * forward pass fails should write NaN into its row: the optimizer drops it for that iteration
 * (counted in the diagnostics) instead of failing the whole step.
 *
 * The data (a mini-batch X, targets) is the evaluator's business: a caller that changes the
 * batch between iterations changes what `evaluate` computes and passes `{ newBatch: true }` to
 * the step so that F(θ_t) is re-evaluated.
 */
export interface Evaluator {
  /** Number of parameters per member (length of θ). */
  readonly n: number;
  /** Number of outputs per member; for cross-entropy m = samples × classes, sample-major. */
  readonly m: number;
  /** Most rows accepted in one call (the driver splits larger requests; bindings/optimizers/chunking.ts); absent = any. */
  readonly maxMembers?: number;
  /**
   * out(count × m) = F(rows_r) for r < count.
   * rows: count × n f64, row-major (explicit parameter vectors: θ_t itself with count = 1,
   * NLB members when there is no fast path, the candidate θ⁺, the EKI ensemble).
   */
  evaluate(rows: Buf<'f64'>, count: number, out: Buf<'f64'>): void | Promise<void>;
  /**
   * Optional NLB fast path (docs/method.md §2.2–2.3): out = F of the members of `request` (count × m,
   * or count + 1 rows with row 0 = F(θ) when request.center), so the members can be generated
   * straight into f32 network parameters and never materialized in f64. The driver never sends a
   * request of count 0 here (θ alone goes to `evaluate`).
   */
  evaluatePerturbed?(request: PerturbedRequest, out: Buf<'f64'>): void | Promise<void>;
}

/** Which loss L(F, y) an Objective implements (docs/method.md §1). */
export type LossKind = 'least-squares' | 'cross-entropy';

/**
 * A loss of the outputs only, with its data in wasm buffers (bindings/optimizers/objectives.ts:
 * LeastSquares, CrossEntropy). The loss, its gradient and Hessian products are exact; only F is
 * linearized (docs/method.md §2.4). Pointers are byte offsets of f64 buffers in module memory.
 * A caller may swap the data (setTarget / setLabels) between iterations: a mini-batch.
 */
export interface Objective {
  readonly kind: LossKind;
  /** Outputs per member this objective expects (least squares: length of y; cross-entropy B·C). */
  readonly m: number;
  /**
   * The k-dimensional Gauss–Newton system at the center c (docs/method.md §2.4):
   * A(k×k) = ΔFᵀHΔF, r(k) = −ΔFᵀg with ΔF_i = F_i − c (F: k × m). Returns L(c).
   */
  system(k: number, F: number, c: number, A: number, r: number): number;
  /** out(k) = L(F_i) for the k rows of F (k × m). */
  losses(k: number, F: number, out: number): void;
  /**
   * The EKI right-hand sides (docs/method.md §3): D(k×k) with D_lj = ⟨F_l − c, ∇L_j(F_j)⟩, where
   * L_j uses the observations y_j = y + η_j (η: k × m, pointer `noise`; 0 = y_j = y; least
   * squares only — perturbed observations). work: f64 scratch of k·max(m, k + 1).
   */
  innerGradients(k: number, F: number, c: number, noise: number, D: number, work: number): void;
}

/** Why a run stopped. */
export type StopReason =
  | 'maxIterations'   // the iteration budget was used
  | 'tolerance'       // Φ ≤ tolerance
  | 'gradientTolerance' // the gradient proxy ‖∇Φ‖ estimate fell below gradientTolerance
  | 'sigmaMin'        // implicit filtering shrank σ below sigmaMin
  | 'stalled'         // `patience` consecutive iterations without an accepted step
  | 'callback'        // onIteration returned false
  | 'aborted';        // the AbortSignal fired

/** What one iteration did (docs/method.md §2.1–2.7; §3 for EKI). Times are wall-clock ms. */
export interface IterationDiagnostics {
  /** 0-based iteration number. */
  iteration: number;
  /** Φ at the iterate after this iteration (NLB: θ_{t+1}, NaN with acceptance off since the
   *  candidate is not evaluated; EKI: the ensemble mean before the update). */
  loss: number;
  /** Φ(θ_t) on this iteration's batch before the step. */
  lossBefore: number;
  /** NLB: a candidate passed the acceptance test (EKI: always true). */
  accepted: boolean;
  /** Candidate evaluations (NLB acceptance tries), 0 for EKI. */
  tries: number;
  /** Perturbation radius σ used this iteration (EKI: ensemble spread ‖ΔΘ‖_F/√J before the update). */
  sigma: number;
  /** LM damping α of the last solve, relative to the mean diagonal of the k×k system (EKI: J/h). */
  alpha: number;
  /** Step size μ_t (EKI: h). */
  mu: number;
  /** ‖z‖ of the last solve (EKI: ‖Z‖_F). */
  zNorm: number;
  /** ‖θ_{t+1} − θ_t‖ (0 when rejected; EKI: change of the ensemble mean). */
  stepNorm: number;
  /** Estimate of ‖∇Φ(θ_t)‖ from the ensemble: ‖Eᵀ∇Φ‖/(σ√k) for NLB, NaN for EKI. */
  gradientNorm: number;
  /** The regularization term of Φ at the iterate after this iteration (NLB: (λ/2)‖θ_{t+1}‖²; 0 without
   *  one): loss − penalty is the data loss alone. */
  penalty: number;
  /** NLB: actual / predicted decrease of Φ for the last candidate (the k-dim model's gain ratio; NaN if none). */
  gainRatio?: number;
  /** Members whose outputs held NaN/Inf and were left out of this iteration. */
  dropped: number;
  /** Draws retried with a smaller σ because fewer than 2 members survived. */
  redraws: number;
  /** Rows passed to the forward model this iteration. */
  evaluations: number;
  /** Time inside the evaluator (forward passes, including generating members on its fast path). */
  forwardMs: number;
  /** Time in the optimizer between forward calls: member generation (materialized rows), k×k
   *  systems, Cholesky, θ updates, and the JS around them. */
  algebraMs: number;
  /** Whole iteration; bookkeeping = totalMs − forwardMs − algebraMs. */
  totalMs: number;
}

/** One request of forward evaluations yielded by optimizer.iterate(). */
export type EvaluationRequest =
  /** Evaluate `count` explicit rows (count × n, f64) into out (count × m). */
  | { kind: 'rows'; rows: Buf<'f64'>; count: number; out: Buf<'f64'> }
  /** Evaluate the members of a draw (and θ first with center; the rows of ask() likewise) into out. */
  | (PerturbedRequest & { kind: 'perturbed'; out: Buf<'f64'> });

/** Rows a request evaluates: its members plus θ itself when a perturbed request carries the center. */
export function requestRows(req: EvaluationRequest): number {
  return req.kind === 'perturbed' && req.center ? req.count + 1 : req.count;
}

/** Options of one step. */
export interface StepOptions {
  /**
   * The evaluator's data changed since the last step (a new mini-batch): F(θ_t) must be
   * re-evaluated instead of reusing the value from the last acceptance test. Default true (safe).
   */
  newBatch?: boolean;
  /**
   * stepAsync: when this signal fires while an evaluation is pending, the step rejects at once
   * with an AbortError (IterationAborted) and the iteration is abandoned: θ has not moved, but
   * counters (RNG draws, damping) may have; restore a saveState() taken before the step to
   * continue exactly. The run core (minimize, fit) does that itself.
   */
  signal?: AbortSignal;
}

/** An optimizer: a small object with one update step (docs/method.md §2 NLB, §3 EKI). */
export interface Optimizer {
  /** The process it runs (its name in bindings/optimizers/registry.ts). */
  readonly kind: string;
  /** Parameters (length of θ). */
  readonly n: number;
  /** Iterations done. */
  readonly iteration: number;
  /** A copy of the current estimate: NLB θ_t, EKI the ensemble mean (docs/method.md §3). */
  theta(out?: Float64Array): Float64Array;
  /**
   * The estimate in module memory (f64 n), e.g. for a network to predict from. Valid until the
   * next step; do not write to it.
   */
  thetaBuf(): Buf<'f64'>;
  /**
   * Replaces the iterate by θ (n values), keeping every counter and schedule. Present only when θ
   * is the whole iterate (NLB); a process with an ensemble (EKI) has no such method.
   */
  setTheta?(theta: ArrayLike<number>): void;
  /** The regularization term of Φ at the current estimate (NLB: (λ/2)‖θ_t‖²; 0 without one). */
  readonly penalty: number;
  /** The schedules of the process (σ, damping); the run core stops when one gives a reason. */
  readonly schedules: readonly Schedule[];
  /** The iteration as a generator of evaluation requests; its return value is the diagnostics. */
  iterate(objective: Objective, options?: StepOptions): Generator<EvaluationRequest, IterationDiagnostics, void>;
  /** One iteration with a synchronous evaluator (throws a TypeError if it returns a promise). */
  step(evaluator: Evaluator, objective: Objective, options?: StepOptions): IterationDiagnostics;
  /** One iteration; the evaluator may be synchronous or asynchronous. */
  stepAsync(evaluator: Evaluator, objective: Objective, options?: StepOptions): Promise<IterationDiagnostics>;
  /** The optimizer's state as plain data (typed arrays are copies), for a bit-identical resume. */
  saveState(): OptimizerState;
  /** Restores a state from saveState() of an optimizer of the same kind, n and options. */
  loadState(state: OptimizerState): void;
  /** Frees the optimizer's buffers. */
  dispose(): void;
}

/** NLB state: the iterate, the iteration and RNG draw counters, the damping and σ of the schedule. */
export interface NlbState {
  kind: 'nlb';
  theta: Float64Array;
  iteration: number;
  draws: number;
  alpha: number;
  sigma: number;
}

/** EKI state: the persistent ensemble (J × n) and the iteration and RNG draw counters. */
export interface EkiState {
  kind: 'eki';
  ensemble: Float64Array;
  iteration: number;
  draws: number;
}

export type OptimizerState = NlbState | EkiState;

/** How σ evolves (docs/method.md §2.6). */
export type SigmaSchedule = 'constant' | 'decay' | 'implicit-filtering';

/** Options of the never-look-back EnKF (docs/method.md §2). Defaults and their evidence: docs/defaults.md. */
export interface NlbOptions {
  /** k, members drawn afresh per iteration (default min(2n, 32)). */
  ensembleSize?: number;
  /** Initial perturbation radius σ₀ (absolute, in units of θ). */
  sigma?: number;
  /** 'constant'; 'decay': σ_t = max(σ₀·sigmaDecay^t, sigmaMin); 'implicit-filtering': σ ← σ·sigmaShrink
   *  after a failed step, σ ← min(σ·sigmaGrow, sigmaMax) after an accepted one. */
  sigmaSchedule?: SigmaSchedule;
  /** Factor per iteration of the 'decay' schedule, in (0, 1]. */
  sigmaDecay?: number;
  /** Factor after a failed step ('implicit-filtering'), in (0, 1). */
  sigmaShrink?: number;
  /** Factor after an accepted step ('implicit-filtering'), ≥ 1. */
  sigmaGrow?: number;
  /** Floor of σ; implicit filtering stops with reason 'sigmaMin' below it. */
  sigmaMin?: number;
  /** Ceiling of σ for sigmaGrow. */
  sigmaMax?: number;
  /** Initial LM damping α, relative to the mean diagonal of the k×k system (scale-free). */
  alpha?: number;
  /** α ← α·alphaUp after a rejected candidate (> 1). */
  alphaUp?: number;
  /** α ← max(α·alphaDown, alphaMin) after an accepted one (in (0, 1]). */
  alphaDown?: number;
  /** 'factors' (alphaUp / alphaDown) or 'gain-ratio' (Nielsen's rule on actual / predicted decrease). */
  dampingControl?: 'factors' | 'gain-ratio';
  /** Bounds of α. */
  alphaMin?: number;
  alphaMax?: number;
  /** Accept only candidates that decrease Φ on the same batch (docs/method.md §2.5). */
  acceptance?: boolean;
  /** Candidate tries per iteration (each raises α) before the step counts as failed. */
  maxRetries?: number;
  /** μ₀; the step is μ_t = μ₀/√(1 + t/stepDecay) (docs/method.md §2.5). */
  stepSize?: number;
  /** T of the μ schedule; Infinity keeps μ constant. */
  stepDecay?: number;
  /** τ: z is scaled so that max|ΔF z| ≤ τ (trust region on the output change); Infinity = off. */
  trustRegion?: number;
  /** Tikhonov λ: Φ = L + (λ/2)‖θ‖², included exactly in the k×k system. */
  lambda?: number;
  /** Antithetic pairs ±ξ (members 2j, 2j+1 share ξ_j with opposite signs). */
  antithetic?: boolean;
  /** Seed of every draw. */
  seed?: number;
  /** Rows per forward call when members are materialized (memory: maxMembers × n f64). */
  maxMembers?: number;
  /** Redraws with σ/2 when fewer than 2 members survive, before the step fails with an error. */
  maxRedraws?: number;
  /** 'gaussian' (default) or rank-r weight directions U Vᵀ/√r per weight block (bindings/optimizers/directions.ts). */
  perturbation?: 'gaussian' | { kind: 'low-rank'; rank?: number };
  /** Low-rank only: θ's shapes in order, each weight shape (≥ 2 dims, e.g. [d_in, d_out] or a conv's
   *  [kh, kw, c_in, c_out]) followed by its bias [d_out] (fit fills them in from the model). */
  blocks?: readonly (readonly number[])[];
}

/** Options of classical EKI (docs/method.md §3). */
export interface EkiOptions {
  /** J, members of the persistent ensemble (default max(2, min(2n, 32))). */
  ensembleSize?: number;
  /** Standard deviation of the initial ensemble around θ₀. */
  spread?: number;
  /** Step h (or h₀ when adaptiveStep). */
  step?: number;
  /** h = h₀/(‖D‖_F + ε) (Kovachki–Stuart). */
  adaptiveStep?: boolean;
  /** y_j = y + η_j, η_j ~ N(0, Γ) fresh per iteration (least squares only). */
  perturbedObservations?: boolean;
  /** EKI(R): standard deviation of fresh N(0, noise²I) added to every member after each update; 0 = off. */
  noise?: number;
  /** Multiplicative inflation ρ ≥ 1 of the spread after each update; 1 = off. */
  inflation?: number;
  /** Seed of every draw. */
  seed?: number;
  /** Rows per forward call (memory: the persistent J × n ensemble plus nothing per call). */
  maxMembers?: number;
  /** Contractions of a failed ensemble (fewer than 2 finite members) before the step fails. */
  maxRedraws?: number;
}

/**
 * A process of the registry (bindings/optimizers/registry.ts): how to create it and what the run
 * core, minimize and fit need to know about it. A new process is one file exporting one of these
 * plus one line in the registry.
 */
export interface ProcessDefinition<O extends object = object> {
  /** Its name: the `optimizer` option of minimize / fit and Optimizer.kind. */
  readonly kind: string;
  /** Every option key (unknown keys are rejected). */
  readonly optionKeys: readonly string[];
  /** Defaults of the options that do not depend on n (evidence: docs/defaults.md). */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** fit's defaults for networks, over `defaults` (a user's options override them). */
  readonly networkDefaults: Readonly<O>;
  /** θ is the whole iterate: its optimizers have setTheta (fit's exact last layer needs it). */
  readonly thetaIsIterate: boolean;
  /** The diagnostics' `loss` is Φ at the estimate after the step (else the final estimate is evaluated once more). */
  readonly lossAtEstimate: boolean;
  create(ws: Workspace, theta0: ArrayLike<number>, options: O): Optimizer;
}
