// Losses of the outputs only (docs/method.md §1), with their data in wasm buffers: least squares with
// scalar or diagonal Γ, and softmax cross-entropy with labels as class indices. Each method is one
// kernel call over all members; the optimizers never branch on the loss.
import type { Workspace, Buf } from '../workspace.js';
import { checkFiniteNumber, checkInt, checkNumber, describe, describeTyped } from '../errors.js';
import type { Objective } from './types.js';

function checkFiniteArray(name: string, values: ArrayLike<number>, length: number, what: string): void {
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new TypeError(`${name} must be an array of ${length} numbers (${what}); got ${describe(values)}.`);
  }
  if (values.length !== length) {
    throw new RangeError(`${name} has ${values.length} values; expected ${length} (${what}). Check the data shape.`);
  }
  for (let i = 0; i < length; i++) {
    checkFiniteNumber(`${name}[${i}]`, values[i], 'every value must be a finite number. Remove or impute missing data.');
  }
}

// Every method of a disposed objective throws this before touching memory.
function disposedError(kind: string): Error {
  return new Error(`This ${kind} objective was disposed; create a new one (its buffers were given back).`);
}

/**
 * L(F) = ½(F − y)ᵀΓ⁻¹(F − y) with Γ = γ·I (a number) or diag(Γ) (an array of m variances)
 * (docs/method.md §1). Weights W = Γ⁻¹ are stored, never a dense m × m matrix.
 */
export class LeastSquares implements Objective {
  readonly kind = 'least-squares' as const;
  readonly m: number;
  private readonly ws: Workspace;
  // y: m
  private readonly y: Buf<'f64'>;
  // w: m diagonal of Γ⁻¹, or null for the scalar weight wScalar·I
  private weights: Buf<'f64'> | null = null;
  private wScalar = 1;

  /** y: the m observations; noiseCovariance: Γ as a scalar variance or its diagonal (default 1). */
  constructor(ws: Workspace, y: ArrayLike<number>, noiseCovariance: number | ArrayLike<number> = 1) {
    this.ws = ws;
    const m = (y as ArrayLike<number>)?.length;
    checkInt('least-squares observations y (length)', m, 1);
    this.m = m;
    checkFiniteArray('y', y, m, 'the observations');
    this.y = ws.from('f64', y);
    try {
      this.setNoiseCovariance(noiseCovariance);
    } catch (e) {
      // a rejected Γ gives back the buffers already made
      this.dispose();
      throw e;
    }
  }

  /** Replaces the observations (same length m), e.g. for a new mini-batch. */
  setTarget(y: ArrayLike<number>): void {
    this.checkAlive();
    checkFiniteArray('y', y, this.m, 'the observations, same length as before');
    this.y.set(y);
  }

  /** Γ: a positive scalar variance (Γ = γ·I) or m positive variances (diagonal Γ). */
  setNoiseCovariance(noiseCovariance: number | ArrayLike<number>): void {
    this.checkAlive();
    if (typeof noiseCovariance === 'number') {
      checkNumber('noiseCovariance', noiseCovariance, Number.MIN_VALUE);
      if (this.weights) this.ws.free(this.weights);
      this.weights = null;
      this.wScalar = 1 / noiseCovariance;
      return;
    }
    checkFiniteArray('noiseCovariance', noiseCovariance, this.m, 'one variance per observation');
    const w = new Float64Array(this.m);
    for (let i = 0; i < this.m; i++) {
      const v = noiseCovariance[i];
      if (!(v > 0)) throw new RangeError(`noiseCovariance[${i}] is ${v}; variances must be positive.`);
      w[i] = 1 / v;
    }
    if (!this.weights) this.weights = this.ws.f64(this.m);
    this.weights.set(w);
    this.wScalar = 1;
  }

  /** Standard deviation of observation i (√Γ_ii), for perturbed observations. */
  noiseStd(i: number): number {
    this.checkAlive();
    return this.weights ? 1 / Math.sqrt(this.weights.view()[i]) : 1 / Math.sqrt(this.wScalar);
  }

  /** True once disposed (or once its Workspace was). */
  get disposed(): boolean {
    return this.y.disposed;
  }

  private checkAlive(): void {
    if (this.y.disposed) throw disposedError('LeastSquares');
  }

  private get wPtr(): number {
    return this.weights ? this.weights.ptr : 0;
  }

  system(k: number, F: number, c: number, A: number, r: number): number {
    // docs/method.md §2.4: A = ΔFᵀΓ⁻¹ΔF, r = ΔFᵀΓ⁻¹(y − c)
    this.checkAlive();
    return this.ws.raw.lsSystem(k, this.m, this.wScalar, F, c, this.wPtr, this.y.ptr, A, r);
  }

  losses(k: number, F: number, out: number): void {
    this.checkAlive();
    this.ws.raw.lsLoss(k, this.m, this.wScalar, F, this.wPtr, this.y.ptr, out);
  }

  innerGradients(k: number, F: number, c: number, noise: number, D: number, work: number): void {
    // D_lj = ΔF_lᵀW(F_j − y − η_j) = A_lj − r_l − ΔF_lᵀWη_j (docs/method.md §3), with A, r from lsSystem
    // work: r (k) then P (k × k)
    this.checkAlive();
    const raw = this.ws.raw;
    raw.lsSystem(k, this.m, this.wScalar, F, c, this.wPtr, this.y.ptr, D, work);
    if (noise !== 0) raw.projectRows(k, this.m, k, this.wScalar, F, c, this.wPtr, noise, work + 8 * k);
    const mem = new Float64Array(this.ws.memory.buffer);
    const d = D >>> 3;
    const rr = work >>> 3;
    const p = rr + k;
    for (let l = 0; l < k; l++) {
      for (let j = 0; j < k; j++) {
        mem[d + l * k + j] -= mem[rr + l] + (noise !== 0 ? mem[p + l * k + j] : 0);
      }
    }
  }

  /** Frees the objective's buffers (idempotent). */
  dispose(): void {
    if (this.y.disposed) return;
    this.ws.free(this.y);
    if (this.weights) this.ws.free(this.weights);
    this.weights = null;
  }
}

/**
 * Mean softmax cross-entropy L(F) = −(1/B) Σ_b log softmax(F_b)[c_b] over B samples of C logits
 * (docs/method.md §1); F is sample-major, m = B·C. H and g are applied per sample without forming them.
 */
export class CrossEntropy implements Objective {
  readonly kind = 'cross-entropy' as const;
  readonly m: number;
  readonly samples: number;
  readonly classes: number;
  private readonly ws: Workspace;
  // labels: B class ids
  private readonly labels: Buf<'i32'>;

  constructor(ws: Workspace, classes: number, labels: ArrayLike<number>) {
    this.ws = ws;
    checkInt('classes', classes, 2);
    const B = (labels as ArrayLike<number>)?.length;
    checkInt('cross-entropy labels (length)', B, 1);
    this.classes = classes;
    this.samples = B;
    this.m = B * classes;
    this.labels = ws.i32(B);
    try {
      this.setLabels(labels);
    } catch (e) {
      // rejected labels give back the buffer already made
      this.dispose();
      throw e;
    }
  }

  /** Replaces the labels (same number of samples), e.g. for a new mini-batch. */
  setLabels(labels: ArrayLike<number>): void {
    this.checkAlive();
    if (labels?.length !== this.samples) {
      throw new RangeError(`labels has ${labels?.length} entries; expected ${this.samples} (one class id per sample).`);
    }
    for (let i = 0; i < this.samples; i++) {
      const c = labels[i];
      if (typeof c !== 'number') throw new TypeError(`labels[${i}] must be a number (a class id); got ${describeTyped(c)}.`);
      if (!Number.isInteger(c) || c < 0 || c >= this.classes) {
        throw new RangeError(`labels[${i}] is ${c}; class ids must be integers in [0, ${this.classes - 1}].`);
      }
    }
    this.labels.set(labels);
  }

  /** True once disposed (or once its Workspace was). */
  get disposed(): boolean {
    return this.labels.disposed;
  }

  private checkAlive(): void {
    if (this.labels.disposed) throw disposedError('CrossEntropy');
  }

  system(k: number, F: number, c: number, A: number, r: number): number {
    // docs/method.md §2.4: A = ΔFᵀHΔF, r = −ΔFᵀg with H, g of the mean cross-entropy at c
    this.checkAlive();
    return this.ws.raw.ceSystem(k, this.samples, this.classes, F, c, this.labels.ptr, A, r);
  }

  losses(k: number, F: number, out: number): void {
    this.checkAlive();
    this.ws.raw.ceLoss(k, this.samples, this.classes, F, this.labels.ptr, out, 0);
  }

  /** correct(k, i32) = argmax hits of each member's logits, next to the losses out(k). */
  lossesAndHits(k: number, F: number, out: number, correct: number): void {
    this.checkAlive();
    this.ws.raw.ceLoss(k, this.samples, this.classes, F, this.labels.ptr, out, correct);
  }

  innerGradients(k: number, F: number, c: number, noise: number, D: number, work: number): void {
    // D_lj = ⟨F_l − c, ∇L(F_j)⟩ (Kovachki–Stuart form, docs/method.md §3); work: G (k × m)
    this.checkAlive();
    if (noise !== 0) throw new TypeError('Perturbed observations apply to least squares only.');
    const raw = this.ws.raw;
    raw.ceGrad(k, this.samples, this.classes, F, this.labels.ptr, work);
    raw.projectRows(k, this.m, k, 1, F, c, 0, work, D);
  }

  /** Frees the objective's buffers (idempotent). */
  dispose(): void {
    if (!this.labels.disposed) this.ws.free(this.labels);
  }
}
