// Classical ensemble Kalman inversion (docs/method.md §3): the baseline NLB modifies. A persistent
// ensemble Θ (J × n) is moved by ensemble-space updates Θ_j += Σ_l Z_lj (Θ_l − θ̄); predictions use
// the ensemble mean. Its known failures (subspace property, collapse) are what NLB removes.
import type { Buf, Workspace } from '../workspace.js';
import { NotPositiveDefiniteError, OptimizationError, describe } from '../errors.js';
import type {
  EkiOptions, EkiState, EvaluationRequest, IterationDiagnostics, Objective, OptimizerState, ProcessDefinition, StepOptions,
} from './types.js';
import { LeastSquares } from './objectives.js';
import { defaultEnsembleSize } from './nlb-options.js';
import { OptimizerBase, compactFinite, distance, subBuf } from './driver.js';
import { boolOption, checkStateCounters, intOption, numberOption, rejectUnknownOptions } from './options.js';

/** Every EkiOptions key (unknown keys are rejected). */
export const EKI_OPTION_KEYS = [
  'ensembleSize', 'spread', 'step', 'adaptiveStep', 'perturbedObservations', 'noise', 'inflation', 'seed',
  'maxMembers', 'maxRedraws',
] as const;

/** The defaults of EkiOptions except ensembleSize (J = max(2, min(2n, 32)); evidence: docs/defaults.md). */
export const EKI_DEFAULTS = {
  spread: 1,
  step: 1,
  adaptiveStep: false,
  perturbedObservations: false,
  noise: 0,
  inflation: 1,
  seed: 1,
  maxRedraws: 5,
};

// ε of the adaptive step h = h₀/(‖D‖_F + ε)
const ADAPTIVE_EPS = 1e-12;

/** Classical EKI. Create with createEki(); drive with step / stepAsync / iterate. */
export class Eki extends OptimizerBase {
  readonly kind = 'eki' as const;
  readonly J: number;
  readonly seed: number;
  private readonly o: Omit<typeof EKI_DEFAULTS, 'seed'>;
  /** EKI has no σ or damping schedule. */
  readonly schedules = [] as const;
  private t = 0;
  private draws = 0;
  private m = 0;
  // all: (J + 1) × n, row 0 = ensemble mean θ̄, rows 1..J = members Θ_j
  private readonly all: Buf<'f64'>;
  private readonly members: Buf<'f64'>;
  private readonly meanRow: Buf<'f64'>;
  // prevMean: n (for ‖Δθ̄‖); noiseRow: n (EKI(R) scratch); updateWork: n + J·256 (ekiUpdate)
  private readonly prevMean: Buf<'f64'>;
  private readonly noiseRow: Buf<'f64'>;
  private readonly updateWork: Buf<'f64'>;
  // F: (J + 1) × m outputs (row 0 at the mean), c: m mean of the members' outputs, eta: J × m noise,
  // work: J·max(m, J + 1) objective scratch
  private F: Buf<'f64'> | null = null;
  private c: Buf<'f64'> | null = null;
  private eta: Buf<'f64'> | null = null;
  private work: Buf<'f64'> | null = null;
  // A, L, D, B: J × J ensemble-space matrices; Z: J × J update coefficients; r: J; lossOut: 1
  private readonly A: Buf<'f64'>;
  private readonly L: Buf<'f64'>;
  private readonly D: Buf<'f64'>;
  private readonly B: Buf<'f64'>;
  private readonly Z: Buf<'f64'>;
  private readonly r: Buf<'f64'>;
  private readonly lossOut: Buf<'f64'>;
  // memberFinite: i32 J (finiteness flag of each member's outputs)
  private readonly memberFinite: Buf<'i32'>;
  private readonly index: Int32Array;

  constructor(ws: Workspace, theta0: Float64Array, options: EkiOptions = {}) {
    rejectUnknownOptions('the eki optimizer', options, EKI_OPTION_KEYS);
    const J = intOption('ensembleSize', options.ensembleSize, Math.max(2, defaultEnsembleSize(theta0.length)), 2, 4096);
    super(ws, theta0.length, options.maxMembers, J + 1);
    this.J = J;
    const d = EKI_DEFAULTS;
    this.seed = intOption('seed', options.seed, d.seed, 0, 0xffffffff);
    this.o = {
      spread: numberOption('spread', options.spread, d.spread, Number.MIN_VALUE),
      step: numberOption('step', options.step, d.step, Number.MIN_VALUE),
      adaptiveStep: boolOption('adaptiveStep', options.adaptiveStep, d.adaptiveStep),
      perturbedObservations: boolOption('perturbedObservations', options.perturbedObservations, d.perturbedObservations),
      noise: numberOption('noise', options.noise, d.noise, 0),
      inflation: numberOption('inflation', options.inflation, d.inflation, 1),
      maxRedraws: intOption('maxRedraws', options.maxRedraws, d.maxRedraws, 0, 60),
    };
    const n = this.n;
    this.all = ws.f64((J + 1) * n);
    this.meanRow = subBuf(ws, this.all, 0, n);
    this.members = subBuf(ws, this.all, n, J * n);
    this.prevMean = ws.f64(n);
    this.noiseRow = ws.f64(n);
    this.updateWork = ws.f64(n + J * 256);
    this.A = ws.f64(J * J);
    this.L = ws.f64(J * J);
    this.D = ws.f64(J * J);
    this.B = ws.f64(J * J);
    this.Z = ws.f64(J * J);
    this.r = ws.f64(J);
    this.lossOut = ws.f64(1);
    this.memberFinite = ws.i32(J);
    this.index = new Int32Array(J);
    // docs/method.md §3: initial ensemble θ₀ + spread·ξ_j (draw 0), recentred so that θ̄₀ = θ₀
    // exactly (the first prediction is the caller's θ₀; span(ΔΘ₀) is unchanged)
    const theta0Buf = ws.from('f64', theta0);
    ws.raw.perturb64(J, n, this.o.spread, this.seed, this.draws++, 0, 0, theta0Buf.ptr, this.members.ptr);
    ws.free(theta0Buf);
    ws.raw.meanRows(J, n, this.members.ptr, this.meanRow.ptr);
    const rows = this.members.view();
    const mean = this.meanRow.view();
    for (let j = 0; j < J; j++) {
      for (let i = 0; i < n; i++) rows[j * n + i] += theta0[i] - mean[i];
    }
    mean.set(theta0);
  }

  get iteration(): number {
    return this.t;
  }

  /** The ensemble mean θ̄ (f64 n) — EKI's prediction (docs/method.md §3). */
  thetaBuf(): Buf<'f64'> {
    this.checkAlive();
    return this.meanRow;
  }

  /** A copy of the ensemble Θ (J × n, one member per row). */
  ensemble(): Float64Array {
    this.checkAlive();
    return this.members.copy();
  }

  /** Spread ‖Θ − θ̄1ᵀ‖_F/√J (collapse shows as spread → 0). */
  spread(): number {
    this.checkAlive();
    return distanceToMean(this.members.view(), this.meanRow.view(), this.J, this.n);
  }

  saveState(): EkiState {
    this.checkAlive();
    return { kind: 'eki', ensemble: this.ensemble(), iteration: this.t, draws: this.draws };
  }

  loadState(state: OptimizerState): void {
    this.checkAlive();
    if (!state || state.kind !== 'eki') throw new TypeError(`loadState expects an EKI state (kind 'eki'); got ${describe(state?.kind)}.`);
    const e = state.ensemble;
    if (!(e instanceof Float64Array) || e.length !== this.J * this.n) {
      throw new RangeError(`state.ensemble holds ${describe(e)}; expected a Float64Array of J × n = ${this.J} × ${this.n}.`);
    }
    for (let i = 0; i < e.length; i++) {
      if (!Number.isFinite(e[i])) throw new RangeError(`state.ensemble[${i}] is ${e[i]}; every value must be finite.`);
    }
    checkStateCounters(state);
    this.members.set(e);
    this.t = state.iteration;
    this.draws = state.draws;
    this.ws.raw.meanRows(this.J, this.n, this.members.ptr, this.meanRow.ptr);
  }

  private ensureOutputs(m: number): void {
    if (this.m === m) return;
    for (const b of [this.F, this.c, this.eta, this.work]) if (b) this.ws.free(b);
    const J = this.J;
    this.F = this.ws.f64((J + 1) * m);
    this.c = this.ws.f64(m);
    this.eta = this.ws.f64(J * m);
    this.work = this.ws.f64(J * Math.max(m, J + 1));
    this.m = m;
  }

  // Θ_j ← θ̄ + s(Θ_j − θ̄) for all j: ekiUpdate with Z = (s − 1)·I.
  private scaleSpread(s: number): void {
    const J = this.J;
    const z = this.Z.view();
    z.fill(0);
    for (let j = 0; j < J; j++) z[j * J + j] = s - 1;
    this.ws.raw.ekiUpdate(J, this.n, this.members.ptr, this.Z.ptr, this.updateWork.ptr);
  }

  *iterate(objective: Objective, _options: StepOptions = {}): Generator<EvaluationRequest, IterationDiagnostics, void> {
    this.checkAlive();
    this.checkObjective(objective, undefined);
    if (this.o.perturbedObservations && !(objective instanceof LeastSquares)) {
      throw new TypeError('perturbedObservations applies to least squares only; turn it off for cross-entropy.');
    }
    const { J, n, o, ws } = this;
    const raw = ws.raw;
    this.ensureOutputs(objective.m);
    const m = this.m;
    const t = this.t;
    const F = this.F!;
    const Fm = subBuf(ws, F, m, J * m);
    let evaluations = 0;
    let redraws = 0;
    let dropped = 0;
    let kk = 0;
    for (;;) {
      // rows: [θ̄; Θ_1; …; Θ_J] — the mean for the reported loss, the members for the update
      raw.meanRows(J, n, this.members.ptr, this.meanRow.ptr);
      yield { kind: 'rows', rows: this.all, count: J + 1, out: F };
      // the evaluation may have outlived this optimizer (disposed while it was pending)
      this.checkAlive();
      evaluations += J + 1;
      kk = compactFinite(ws, Fm, J, m, this.memberFinite, this.index).count;
      dropped += J - kk;
      if (kk >= 2) break;
      if (redraws === o.maxRedraws) {
        throw new OptimizationError(`Only ${kk} of ${J} EKI members gave finite outputs at iteration ${t}, after ` +
          `${redraws} contractions of the ensemble. The ensemble is unchanged; check the forward model or use a smaller spread.`);
      }
      // the analogue of NLB's smaller σ: contract the ensemble toward its mean and re-evaluate
      this.scaleSpread(0.5);
      redraws++;
    }
    objective.losses(1, F.ptr, this.lossOut.ptr);
    const loss = this.lossOut.view()[0];
    const spread = this.spread();
    this.prevMean.view().set(this.meanRow.view());

    // docs/method.md §3: c = mean of the surviving members' outputs, D_lj = ⟨F_l − c, ∇L_j(F_j)⟩
    const c = this.c!;
    raw.meanRows(kk, m, Fm.ptr, c.ptr);
    let noisePtr = 0;
    if (o.perturbedObservations) {
      // η_j ~ N(0, Γ), fresh per iteration (a draw of its own), one row per survivor
      const draw = this.draws++;
      const ls = objective as LeastSquares;
      for (let s = 0; s < kk; s++) raw.randn(m, this.seed, draw, this.index[s], 0, this.eta!.byteOffset(s * m));
      const ev = this.eta!.view();
      for (let i = 0; i < m; i++) {
        const std = ls.noiseStd(i);
        for (let s = 0; s < kk; s++) ev[s * m + i] *= std;
      }
      noisePtr = this.eta!.ptr;
    }
    objective.innerGradients(kk, Fm.ptr, c.ptr, noisePtr, this.D.ptr, this.work!.ptr);
    const dv = this.D.view();
    let dNorm = 0;
    for (let i = 0; i < kk * kk; i++) dNorm += dv[i] * dv[i];
    dNorm = Math.sqrt(dNorm);
    if (!Number.isFinite(dNorm)) {
      throw new OptimizationError(`The EKI ensemble system at iteration ${t} is not finite (outputs overflow). ` +
        'The ensemble is unchanged; use a smaller spread or rescale the forward model.');
    }
    const h = o.adaptiveStep ? o.step / (dNorm + ADAPTIVE_EPS) : o.step;

    const zs = new Float64Array(kk * kk);
    if (objective.kind === 'least-squares') {
      // ILS form: Z = (ΔFᵀΓ⁻¹ΔF + (J/h) I)⁻¹ ΔFᵀΓ⁻¹(y_j − F_j), column j per member; ΔFᵀΓ⁻¹(y_j − F_j) = −D_·j
      objective.system(kk, Fm.ptr, c.ptr, this.A.ptr, this.r.ptr);
      const status = raw.cholesky(kk, kk / h, this.A.ptr, this.L.ptr);
      if (status !== 0) throw new NotPositiveDefiniteError(`The EKI system ΔFᵀΓ⁻¹ΔF + (J/h)I at iteration ${t}`, status - 1);
      const bv = this.B.view();
      for (let i = 0; i < kk * kk; i++) bv[i] = -dv[i];
      raw.cholSolve(kk, kk, this.L.ptr, this.B.ptr);
      zs.set(this.B.view().subarray(0, kk * kk));
    } else {
      // Kovachki–Stuart form: Z_lj = −(h/J) D_lj
      for (let i = 0; i < kk * kk; i++) zs[i] = -(h / kk) * dv[i];
    }
    // Z (J × J): survivors' coefficients at their member indices; failed members neither move nor pull
    const zv = this.Z.view();
    zv.fill(0);
    let zNorm = 0;
    for (let a = 0; a < kk; a++) {
      for (let b = 0; b < kk; b++) {
        const v = zs[a * kk + b];
        zv[this.index[a] * J + this.index[b]] = v;
        zNorm += v * v;
      }
    }
    raw.ekiUpdate(J, n, this.members.ptr, this.Z.ptr, this.updateWork.ptr);
    if (o.inflation !== 1) this.scaleSpread(o.inflation);
    if (o.noise > 0) {
      // EKI(R): Θ_j += noise·ξ_j, fresh per iteration
      const draw = this.draws++;
      for (let j = 0; j < J; j++) {
        const row = subBuf(ws, this.members, j * n, n);
        raw.perturb64(1, n, o.noise, this.seed, draw, j, 0, row.ptr, this.noiseRow.ptr);
        row.view().set(this.noiseRow.view());
      }
    }
    raw.meanRows(J, n, this.members.ptr, this.meanRow.ptr);
    const stepNorm = distance(this.meanRow, this.prevMean, n);
    this.t++;
    return {
      iteration: t, loss, lossBefore: loss, accepted: true, tries: 0, sigma: spread, alpha: kk / h, mu: h,
      zNorm: Math.sqrt(zNorm), stepNorm, gradientNorm: NaN, penalty: 0, dropped, redraws, evaluations,
      forwardMs: 0, algebraMs: 0, totalMs: 0,
    };
  }

  protected freeBuffers(): void {
    const bufs = [this.all, this.prevMean, this.noiseRow, this.updateWork, this.A, this.L, this.D, this.B, this.Z,
      this.r, this.lossOut, this.memberFinite, this.F, this.c, this.eta, this.work];
    for (const b of bufs) if (b) this.ws.free(b);
  }
}

// ‖Θ − θ̄1ᵀ‖_F/√J of J rows of length n.
function distanceToMean(members: Float64Array, mean: Float64Array, J: number, n: number): number {
  let s = 0;
  for (let j = 0; j < J; j++) {
    const base = j * n;
    for (let i = 0; i < n; i++) {
      const d = members[base + i] - mean[i];
      s += d * d;
    }
  }
  return Math.sqrt(s / J);
}

/** A classical EKI optimizer with its ensemble drawn around θ₀ (docs/method.md §3); buffers live in `ws`. */
export function createEki(ws: Workspace, theta0: ArrayLike<number>, options: EkiOptions = {}): Eki {
  return new Eki(ws, Float64Array.from(theta0), options);
}

/** fit's EKI defaults for networks (docs/method.md §3): the best of a small grid on MNIST (spread
 *  0.01–0.2, h₀ 1–1000, adaptive or fixed; 100 iterations, k = 32, batch 512). */
export const FIT_EKI_DEFAULTS: Readonly<EkiOptions> = Object.freeze({ ensembleSize: 32, spread: 0.05, step: 100, adaptiveStep: true });

/** EKI in the process registry: the estimate is the ensemble mean, and the reported loss is at the
 *  mean before the update. */
export const EKI_PROCESS: ProcessDefinition<EkiOptions> = {
  kind: 'eki', optionKeys: EKI_OPTION_KEYS, defaults: EKI_DEFAULTS, networkDefaults: FIT_EKI_DEFAULTS,
  thetaIsIterate: false, lossAtEstimate: false, create: createEki,
};
