// Never look back (docs/method.md §2): the modified EnKF of Haber, Lucka & Ruthotto. Every iteration
// draws a fresh ensemble E = σΞ around θ_t from the counter RNG, evaluates k + 1 forward passes,
// solves the k×k damped Gauss–Newton system in f64 and moves θ along E·z; the ensemble is then
// thrown away. E is regenerated from (seed, draw, member), never stored as n × k.
import type { Buf, Workspace } from '../workspace.js';
import { NotPositiveDefiniteError, OptimizationError, checkFiniteNumber, checkNumber, describe } from '../errors.js';
import type {
  EvaluationRequest, IterationDiagnostics, NlbOptions, NlbState, Objective, OptimizerState, PerturbedRequest, ProcessDefinition, StepOptions,
} from './types.js';
import { OptimizerBase, allFinite, compactFinite, distance, squaredNorm, subBuf } from './driver.js';
import { boolOption, checkStateCounters } from './options.js';
import { Damping, SigmaController } from './schedules.js';
import { FIT_NLB_DEFAULTS, NLB_DEFAULTS, NLB_OPTION_KEYS, resolveNlbOptions, type ResolvedNlbOptions } from './nlb-options.js';
import { createDirections, type Directions } from './directions.js';

export { NLB_OPTION_KEYS, NLB_DEFAULTS, FIT_NLB_DEFAULTS, defaultEnsembleSize } from './nlb-options.js';

/** The never-look-back EnKF. Create with createNlb(); drive with step / stepAsync / iterate. */
export class Nlb extends OptimizerBase {
  readonly kind = 'nlb' as const;
  readonly k: number;
  readonly seed: number;
  private readonly o: ResolvedNlbOptions;
  private readonly sigmaSchedule: SigmaController;
  private readonly damping: Damping;
  readonly schedules: readonly [SigmaController, Damping];
  private t = 0;
  private draws = 0;
  private m = 0;
  // θ_t and the candidate θ⁺: n each (swapped on acceptance)
  private thetaB: Buf<'f64'>;
  private candB: Buf<'f64'>;
  // Fall: (k + 1) × m outputs of one evaluation call, row 0 = F0 = F(θ_t), rows 1.. = Fk (k × m
  // member outputs); Fc = F(θ⁺): m (copied into F0 on acceptance)
  private Fall: Buf<'f64'> | null = null;
  private F0: Buf<'f64'> | null = null;
  private Fc: Buf<'f64'> | null = null;
  private Fk: Buf<'f64'> | null = null;
  // dF z: m (trust region)
  private dFz: Buf<'f64'> | null = null;
  // A: k×k system, L: k×k Cholesky factor, r: k right-hand side, z: k solution, zFull: k scattered
  private readonly A: Buf<'f64'>;
  private readonly L: Buf<'f64'>;
  private readonly r: Buf<'f64'>;
  private readonly z: Buf<'f64'>;
  private readonly zFull: Buf<'f64'>;
  // loss of one member: 1; memberFinite: i32 k (finiteness flag of each member's outputs)
  private readonly lossOut: Buf<'f64'>;
  private readonly memberFinite: Buf<'i32'>;
  // Tikhonov: gramG k×k = ΞᵀΞ and gramP k = Ξᵀθ over all k members (signed columns)
  private gramG: Buf<'f64'> | null = null;
  private gramP: Buf<'f64'> | null = null;
  private readonly index: Int32Array;
  private centerValid = false;
  private centerObjective: Objective | null = null;
  private thetaSq: number;
  // the perturbation family: members, θ update and Gram (Gaussian or rank-r)
  private readonly directions: Directions;

  constructor(ws: Workspace, theta0: Float64Array, options: NlbOptions = {}) {
    const { k, seed, o } = resolveNlbOptions(options, theta0.length);
    // k members and θ itself go to the model together (docs/method.md §4: one call for all k + 1)
    super(ws, theta0.length, options.maxMembers, k + 1);
    this.k = k;
    this.seed = seed;
    this.o = o;
    this.sigmaSchedule = new SigmaController(o.sigmaSchedule, o.sigma, o.sigmaDecay, o.sigmaShrink, o.sigmaGrow, o.sigmaMin, o.sigmaMax);
    this.damping = new Damping(Math.min(Math.max(o.alpha, o.alphaMin), o.alphaMax), o.dampingControl, o.alphaUp,
      o.alphaDown, o.alphaMin, o.alphaMax);
    this.schedules = [this.sigmaSchedule, this.damping];
    // validated before any buffer is allocated
    this.directions = createDirections(ws, this.n, options);
    this.thetaB = ws.from('f64', theta0);
    this.candB = ws.f64(this.n);
    this.A = ws.f64(k * k);
    this.L = ws.f64(k * k);
    this.r = ws.f64(k);
    this.z = ws.f64(k);
    this.zFull = ws.f64(k);
    this.lossOut = ws.f64(1);
    this.memberFinite = ws.i32(k);
    this.index = new Int32Array(k);
    this.thetaSq = squaredNorm(this.thetaB);
  }

  get iteration(): number {
    return this.t;
  }

  /** σ of the next iteration. */
  get sigma(): number {
    return this.sigmaSchedule.at(this.t);
  }

  /** Current LM damping α (relative). */
  get alpha(): number {
    return this.damping.value;
  }

  /** Tikhonov λ of Φ = L + (λ/2)‖θ‖². */
  get lambda(): number {
    return this.o.lambda;
  }

  /** (λ/2)‖θ_t‖², the Tikhonov term of Φ at the iterate. */
  override get penalty(): number {
    return 0.5 * this.o.lambda * this.thetaSq;
  }

  thetaBuf(): Buf<'f64'> {
    this.checkAlive();
    return this.thetaB;
  }

  /** Replaces θ_t (n finite values), keeping the counters and schedules; F(θ) is re-evaluated next. */
  setTheta(theta: ArrayLike<number>): void {
    this.checkAlive();
    if (!theta || theta.length !== this.n) throw new RangeError(`setTheta got ${describe(theta)}; expected n = ${this.n} values.`);
    for (let i = 0; i < this.n; i++) checkFiniteNumber(`theta[${i}]`, theta[i], 'every value must be a finite number.');
    this.thetaB.set(theta);
    this.thetaSq = squaredNorm(this.thetaB);
    this.centerValid = false;
  }

  saveState(): NlbState {
    this.checkAlive();
    return {
      kind: 'nlb', theta: this.theta(), iteration: this.t, draws: this.draws, alpha: this.damping.value,
      sigma: this.sigmaSchedule.current,
    };
  }

  loadState(state: OptimizerState): void {
    this.checkAlive();
    if (!state || state.kind !== 'nlb') throw new TypeError(`loadState expects an NLB state (kind 'nlb'); got ${describe(state?.kind)}.`);
    if (!(state.theta instanceof Float64Array) || state.theta.length !== this.n) {
      throw new RangeError(`state.theta holds ${describe(state.theta)}; expected a Float64Array of n = ${this.n}.`);
    }
    checkStateCounters(state);
    checkNumber('state.alpha', state.alpha, 0);
    checkNumber('state.sigma', state.sigma, Number.MIN_VALUE);
    for (let i = 0; i < this.n; i++) {
      if (!Number.isFinite(state.theta[i])) throw new RangeError(`state.theta[${i}] is ${state.theta[i]}; every value must be finite.`);
    }
    this.thetaB.set(state.theta);
    this.thetaSq = squaredNorm(this.thetaB);
    this.t = state.iteration;
    this.draws = state.draws;
    this.damping.value = state.alpha;
    this.sigmaSchedule.current = state.sigma;
    this.centerValid = false;
  }

  // (Re)allocates the output-sized buffers for m outputs per member.
  private ensureOutputs(m: number): void {
    if (this.m === m) return;
    for (const b of [this.Fall, this.Fc, this.dFz]) if (b) this.ws.free(b);
    this.Fall = this.ws.f64((this.k + 1) * m);
    this.F0 = subBuf(this.ws, this.Fall, 0, m);
    this.Fk = subBuf(this.ws, this.Fall, m, this.k * m);
    this.Fc = this.ws.f64(m);
    this.dFz = this.ws.f64(m);
    this.m = m;
    this.centerValid = false;
  }

  *iterate(objective: Objective, options: StepOptions = {}): Generator<EvaluationRequest, IterationDiagnostics, void> {
    this.checkAlive();
    this.checkObjective(objective, undefined);
    const newBatch = boolOption('newBatch', options.newBatch, true);
    const { k, n, o } = this;
    const raw = this.ws.raw;
    this.ensureOutputs(objective.m);
    const m = this.m;
    const t = this.t;
    let evaluations = 0;

    // docs/method.md §2.3: F0 = F(θ_t), evaluated in the same call as the members, or reused from
    // the last acceptance test on an unchanged batch; invalid until the evaluation completes (a
    // forward that throws leaves F0 half-written)
    let center = newBatch || !this.centerValid || this.centerObjective !== objective;
    if (center) this.centerValid = false;

    // docs/method.md §2.2–2.3: a fresh ensemble; fewer than min(2, k) finite members → redraw with σ/2
    let sigma = this.sigmaSchedule.at(t);
    let draw = 0;
    let redraws = 0;
    let dropped = 0;
    let kk = 0;
    for (;;) {
      draw = this.draws++;
      yield {
        kind: 'perturbed', theta: this.thetaB, sigma, seed: this.seed, draw, member0: 0, count: k,
        antithetic: o.antithetic, out: center ? this.Fall! : this.Fk!, center,
        ...(this.directions.perturbation && { perturbation: this.directions.perturbation }),
      };
      // the evaluation may have outlived this optimizer (disposed while it was pending)
      this.checkAlive();
      evaluations += center ? k + 1 : k;
      if (center) {
        if (!allFinite(this.F0!)) {
          // the draw is given back: the failed iteration repeats exactly once the model is mended
          this.draws = draw;
          throw new OptimizationError(`F(θ) at iteration ${t} has non-finite outputs, so no step can be measured from it. ` +
            'θ is unchanged; check the forward model at the current parameters (or the new batch).');
        }
        this.centerValid = true;
        this.centerObjective = objective;
        center = false;
      }
      kk = compactFinite(this.ws, this.Fk!, k, m, this.memberFinite, this.index).count;
      dropped += k - kk;
      if (kk >= Math.min(2, k)) break;
      if (redraws === o.maxRedraws) {
        throw new OptimizationError(`Only ${kk} of ${k} members gave finite outputs at iteration ${t}, after ${redraws} ` +
          `redraws down to σ = ${sigma}. θ is unchanged (last good value); the forward model fails near θ: ` +
          'check it for NaN/Inf or start from a better θ₀.');
      }
      redraws++;
      sigma /= 2;
    }

    // docs/method.md §2.4: A = ΔFᵀHΔF, r = −ΔFᵀg on the survivors (kk × kk)
    const loss0 = objective.system(kk, this.Fk!.ptr, this.F0!.ptr, this.A.ptr, this.r.ptr);
    const lambda = o.lambda;
    if (lambda > 0) this.addTikhonov(kk, draw, sigma);
    const phi0 = loss0 + this.penalty;
    const rv = this.r.view();
    let rNorm = 0;
    for (let i = 0; i < kk; i++) rNorm += rv[i] * rv[i];
    // ‖Eᵀ∇Φ‖/(σ√k) estimates ‖∇Φ‖: E[(ξᵀv)²] = ‖v‖²
    const gradientNorm = Math.sqrt(rNorm) / (sigma * Math.sqrt(kk));
    let meanDiag = 0;
    const av = this.A.view();
    for (let i = 0; i < kk; i++) meanDiag += av[i * kk + i];
    meanDiag /= kk;
    if (!Number.isFinite(meanDiag) || !Number.isFinite(rNorm)) {
      throw new OptimizationError(`The ensemble system at iteration ${t} is not finite (outputs overflow at σ = ${sigma}). ` +
        'θ is unchanged; use a smaller sigma or rescale the forward model.');
    }

    // docs/method.md §2.5: θ⁺ = θ + μ_t E z, accepted if Φ(θ⁺) < Φ(θ_t) on the same batch
    const mu = o.stepSize / Math.sqrt(1 + t / o.stepDecay);
    let accepted = false;
    let tries = 0;
    let zNorm = 0;
    let phiNew = NaN;
    let gainRatio = NaN;
    let alphaUsed = this.damping.value;
    // A zero system (F constant along every member) has no descent direction: the step fails.
    while (meanDiag > 0 && tries < o.maxRetries) {
      alphaUsed = this.damping.value;
      if (!this.solve(kk, alphaUsed * meanDiag, t)) continue;
      zNorm = this.scaleToTrustRegion(kk, m);
      this.scatter(kk);
      this.candB.view().set(this.thetaB.view());
      // θ⁺ = θ + μσ Σ_i z_i s_i ξ_{q_i}, ξ regenerated (E is never stored)
      this.directions.update(k, mu * sigma, this.seed, draw, 0, o.antithetic, this.zFull.ptr, this.candB.ptr);
      if (!o.acceptance) {
        accepted = true;
        break;
      }
      yield { kind: 'rows', rows: this.candB, count: 1, out: this.Fc! };
      this.checkAlive();
      evaluations += 1;
      tries++;
      const candSq = squaredNorm(this.candB);
      objective.losses(1, this.Fc!.ptr, this.lossOut.ptr);
      phiNew = this.lossOut.view()[0] + 0.5 * lambda * candSq;
      gainRatio = (phi0 - phiNew) / this.predictedDecrease(kk, mu);
      if (phiNew < phi0) {
        accepted = true;
        break;
      }
      this.damping.reject();
    }

    let stepNorm = 0;
    let loss = phi0;
    if (accepted) {
      stepNorm = distance(this.candB, this.thetaB, n);
      [this.thetaB, this.candB] = [this.candB, this.thetaB];
      this.thetaSq = squaredNorm(this.thetaB);
      if (o.acceptance) {
        this.F0!.view().set(this.Fc!.view());
        loss = phiNew;
      } else {
        this.centerValid = false;
        loss = NaN;
      }
      this.damping.accept(gainRatio);
    }
    this.sigmaSchedule.update(accepted);
    this.t++;
    return {
      iteration: t, loss, lossBefore: phi0, accepted, tries, sigma, alpha: alphaUsed, mu, zNorm, stepNorm,
      gradientNorm, penalty: this.penalty, gainRatio, dropped, redraws, evaluations, forwardMs: 0, algebraMs: 0, totalMs: 0,
    };
  }

  // Decrease of the k-dim quadratic model of Φ at w = μz (docs/method.md §2.4): μ zᵀr − ½μ² zᵀAz.
  private predictedDecrease(kk: number, mu: number): number {
    const z = this.z.view();
    const r = this.r.view();
    const a = this.A.view();
    let zr = 0;
    let zAz = 0;
    for (let i = 0; i < kk; i++) {
      zr += z[i] * r[i];
      let row = 0;
      for (let j = 0; j < kk; j++) row += a[i * kk + j] * z[j];
      zAz += z[i] * row;
    }
    return mu * zr - 0.5 * mu * mu * zAz;
  }

  // Cholesky of A + shift·I and z = (A + shift·I)⁻¹ r; on a non-positive pivot raises α and
  // returns false (bounded: α reaches alphaMax after a few raises, then an error).
  private solve(kk: number, shift: number, t: number): boolean {
    const raw = this.ws.raw;
    const status = raw.cholesky(kk, shift, this.A.ptr, this.L.ptr);
    if (status !== 0) {
      if (this.damping.value >= this.o.alphaMax) {
        throw new NotPositiveDefiniteError(`The NLB system ΔFᵀHΔF + αI at iteration ${t}`, status - 1);
      }
      this.damping.reject();
      return false;
    }
    this.z.view().set(this.r.view().subarray(0, kk));
    raw.cholSolve(kk, 1, this.L.ptr, this.z.ptr);
    return true;
  }

  // Trust region on the output change (docs/method.md §2.5): scale z so that max|ΔF z| ≤ τ. Returns ‖z‖.
  private scaleToTrustRegion(kk: number, m: number): number {
    const zv = this.z.view();
    if (this.o.trustRegion !== Infinity) {
      // dFz(m) = Σ_i z_i ΔF_i over the survivors
      const peak = this.ws.raw.combineRows(kk, m, this.Fk!.ptr, this.F0!.ptr, this.z.ptr, this.dFz!.ptr);
      if (peak > this.o.trustRegion) {
        const s = this.o.trustRegion / peak;
        for (let i = 0; i < kk; i++) zv[i] *= s;
      }
    }
    let s = 0;
    for (let i = 0; i < kk; i++) s += zv[i] * zv[i];
    return Math.sqrt(s);
  }

  // zFull(k): survivors' z at their member index, 0 for dropped members (they do not move θ).
  private scatter(kk: number): void {
    const zf = this.zFull.view();
    const zv = this.z.view();
    zf.fill(0);
    for (let s = 0; s < kk; s++) zf[this.index[s]] = zv[s];
  }

  /**
   * Adds the exact Tikhonov terms of Φ = L + (λ/2)‖θ‖² to the survivors' system (docs/method.md §2.8):
   * A += λ EᵀE = λσ² ΞᵀΞ and r −= λ Eᵀθ = λσ Ξᵀθ (signed columns s_i ξ_{q_i}).
   * drawGram regenerates Ξ from the counter RNG (the same ξ_q(j) that perturb64/perturb32 use)
   * and reduces it to ΞᵀΞ (k×k) and Ξᵀθ (k) in one pass: no n × k storage.
   */
  private addTikhonov(kk: number, draw: number, sigma: number): void {
    const { k, ws } = this;
    if (!this.gramG) {
      this.gramG = ws.f64(k * k);
      this.gramP = ws.f64(k);
    }
    this.directions.gram(k, this.seed, draw, 0, this.o.antithetic, this.thetaB.ptr, this.gramG.ptr, this.gramP!.ptr);
    const gram = this.gramG.view();
    const xiTheta = this.gramP!.view();
    const lambda = this.o.lambda;
    const av = this.A.view();
    const r = this.r.view();
    for (let i = 0; i < kk; i++) {
      const gi = this.index[i];
      r[i] -= lambda * sigma * xiTheta[gi];
      for (let j = 0; j < kk; j++) av[i * kk + j] += lambda * sigma * sigma * gram[gi * k + this.index[j]];
    }
  }

  protected freeBuffers(): void {
    const bufs = [this.thetaB, this.candB, this.Fall, this.Fc, this.dFz, this.A, this.L, this.r, this.z,
      this.zFull, this.lossOut, this.memberFinite, this.gramG, this.gramP];
    for (const b of bufs) if (b) this.ws.free(b);
    this.directions?.dispose();
  }

  protected override generateMembers(req: PerturbedRequest, count: number, member0: number, dst: number): void {
    this.directions.members(count, req.sigma, req.seed, req.draw, member0, req.antithetic, req.theta.ptr, dst);
  }
}

/** A never-look-back EnKF optimizer starting at θ₀ (docs/method.md §2); buffers live in `ws`. */
export function createNlb(ws: Workspace, theta0: ArrayLike<number>, options: NlbOptions = {}): Nlb {
  return new Nlb(ws, Float64Array.from(theta0), options);
}

/** NLB in the process registry: θ is the whole iterate, and Φ at it is known after each step. */
export const NLB_PROCESS: ProcessDefinition<NlbOptions> = {
  kind: 'nlb', optionKeys: NLB_OPTION_KEYS, defaults: NLB_DEFAULTS, networkDefaults: FIT_NLB_DEFAULTS,
  thetaIsIterate: true, lossAtEstimate: true, create: createNlb,
};
