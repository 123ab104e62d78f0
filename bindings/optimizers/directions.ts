// NLB's perturbation families: how the k random directions of a draw are defined, as one interface
// the optimizer calls for the θ update (θ += coef·Σ z_i e_i), the Tikhonov Gram (ΞᵀΞ, Ξᵀθ) and
// explicit member rows θ + σ·e_i (evaluators without a fast path, ask/tell).
//   'gaussian': e_i = s_i·ξ_{q_i}, ξ ~ N(0, I_n) (perturb64, nlbUpdate, drawGram; docs/method.md §2.2);
//   'low-rank': e_i = s_i·D_{q_i} with rank-r weight blocks U Vᵀ/√r and Gaussian biases, defined for an
//   MLP's parameter layout (assembly/lowrank-core.ts); E[vec(D) vec(D)ᵀ] = I as for ξ, so the
//   method is unchanged and only the cost of a member differs.
import type { Buf, Workspace } from '../workspace.js';
import { describe } from '../errors.js';
import type { LowRankPerturbation, NlbOptions } from './types.js';

/** Largest rank accepted (beyond it a rank-r member costs about as much as a dense one). */
export const MAX_RANK = 64;

/**
 * The request descriptor of NlbOptions.perturbation with its blocks, or undefined for 'gaussian'.
 * blocks: [W_1, b_1, W_2, b_2, …] shapes, W_l = [d_{l−1}, d_l] and b_l = [d_l] (the MLP layout of
 * bindings/nn/mlp.ts), summing to n parameters.
 */
export function resolvePerturbation(options: Pick<NlbOptions, 'perturbation' | 'blocks'>, n: number): LowRankPerturbation | undefined {
  const p = options.perturbation;
  if (p === undefined || p === 'gaussian') {
    if (options.blocks !== undefined) {
      throw new TypeError("blocks describes the parameters for perturbation { kind: 'low-rank', rank }; with Gaussian members it " +
        'is not used. Drop blocks or pass perturbation: { kind: \'low-rank\', rank: 1 }.');
    }
    return undefined;
  }
  if (p === null || typeof p !== 'object' || (p as { kind?: unknown }).kind !== 'low-rank') {
    throw new TypeError(`perturbation must be 'gaussian' or { kind: 'low-rank', rank }; got ${describe(p)}.`);
  }
  for (const key of Object.keys(p)) {
    if (key !== 'kind' && key !== 'rank') throw new TypeError(`perturbation has an unknown key '${key}'; expected { kind: 'low-rank', rank }.`);
  }
  const rank = p.rank ?? 1;
  if (!Number.isInteger(rank) || rank < 1 || rank > MAX_RANK) {
    throw new RangeError(`perturbation.rank must be an integer in [1, ${MAX_RANK}]; got ${describe(rank)}.`);
  }
  return { kind: 'low-rank', rank, dims: dimsOfBlocks(options.blocks, n) };
}

// Layer sizes d_0 … d_L of blocks [[d_0, d_1], [d_1], [d_1, d_2], [d_2], …] that hold n parameters.
function dimsOfBlocks(blocks: unknown, n: number): number[] {
  const expected = "blocks: the parameter shapes of an MLP, [[d_0, d_1], [d_1], [d_1, d_2], [d_2], …] (each layer's weight matrix " +
    'd_{l−1} × d_l, row-major, then its bias d_l)';
  if (!Array.isArray(blocks) || blocks.length < 2 || blocks.length % 2 !== 0) {
    throw new TypeError(`A low-rank perturbation needs ${expected}; got ${describe(blocks)}. fit() fills it in from the model's layers.`);
  }
  const isSize = (d: unknown): d is number => Number.isInteger(d) && (d as number) >= 1;
  const dims: number[] = [];
  for (let l = 0; l < blocks.length; l += 2) {
    const W = blocks[l] as unknown;
    const b = blocks[l + 1] as unknown;
    if (!Array.isArray(W) || W.length !== 2 || !isSize(W[0]) || !isSize(W[1])) {
      throw new TypeError(`blocks[${l}] must be a weight shape [d_in, d_out] of positive integers; got ${describe(W)}. Expected ${expected}.`);
    }
    if (!Array.isArray(b) || b.length !== 1 || b[0] !== W[1]) {
      throw new TypeError(`blocks[${l + 1}] must be the bias shape [${W[1]}] of the weights before it; got ${describe(b)}. Expected ${expected}.`);
    }
    if (l === 0) dims.push(W[0]);
    else if (W[0] !== dims[dims.length - 1]) {
      throw new RangeError(`blocks[${l}] takes ${W[0]} inputs but the layer before has ${dims[dims.length - 1]} outputs; expected ${expected}.`);
    }
    dims.push(W[1]);
  }
  let total = 0;
  for (let l = 1; l < dims.length; l++) total += dims[l - 1] * dims[l] + dims[l];
  if (total !== n) {
    throw new RangeError(`blocks hold ${total} parameters but θ has n = ${n}; the shapes must cover θ exactly, in order.`);
  }
  return dims;
}

/** The blocks of an MLP with layer sizes d_0 … d_L (for fit). */
export function mlpBlocks(layers: readonly number[]): number[][] {
  const blocks: number[][] = [];
  for (let l = 1; l < layers.length; l++) blocks.push([layers[l - 1], layers[l]], [layers[l]]);
  return blocks;
}

/** One family's kernels for a draw (seed, draw); members member0 …, antithetic pairs share a stream. */
export interface Directions {
  /** What the evaluators see on a perturbed request (absent: Gaussian). */
  readonly perturbation: LowRankPerturbation | undefined;
  /** θ (f64 n) += coef·Σ_i z_i·e_i over members member0 … member0 + k − 1; z: f64 k. */
  update(k: number, coef: number, seed: number, draw: number, member0: number, antithetic: boolean, z: number, theta: number): void;
  /** G (f64 k×k) = [e_a·e_b], p (f64 k) = [e_a·θ]. */
  gram(k: number, seed: number, draw: number, member0: number, antithetic: boolean, theta: number, G: number, p: number): void;
  /** dst (f64 count × n) = rows θ + σ·e_i for members member0 … member0 + count − 1. */
  members(count: number, sigma: number, seed: number, draw: number, member0: number, antithetic: boolean, theta: number, dst: number): void;
  dispose(): void;
}

/** The Gaussian family: the kernels NLB has always used (bit-identical to them). */
class GaussianDirections implements Directions {
  readonly perturbation = undefined;
  constructor(private readonly ws: Workspace, private readonly n: number) {}
  update(k: number, coef: number, seed: number, draw: number, member0: number, antithetic: boolean, z: number, theta: number): void {
    this.ws.raw.nlbUpdate(k, this.n, coef, seed, draw, member0, antithetic ? 1 : 0, z, theta);
  }
  gram(k: number, seed: number, draw: number, member0: number, antithetic: boolean, theta: number, G: number, p: number): void {
    this.ws.raw.drawGram(k, this.n, seed, draw, member0, antithetic ? 1 : 0, theta, G, p);
  }
  members(count: number, sigma: number, seed: number, draw: number, member0: number, antithetic: boolean, theta: number, dst: number): void {
    this.ws.raw.perturb64(count, this.n, sigma, seed, draw, member0, antithetic ? 1 : 0, theta, dst);
  }
  dispose(): void {}
}

/** The rank-r family (assembly/lowrank-update.ts); its scratch lives in the optimizer's workspace. */
class LowRankDirections implements Directions {
  private readonly layers: number;
  // dims: i32 L + 1; updateWork: lowRankUpdateWorkBytes; gramWork: lowRankGramWorkBytes (by k, on
  // first use); one: f64 1 = [1] (the z of a single materialized member)
  private readonly dims: Buf<'i32'>;
  private readonly updateWork: Buf<'f64'>;
  private gramWork: Buf<'f64'> | null = null;
  private gramK = 0;
  private readonly one: Buf<'f64'>;

  constructor(private readonly ws: Workspace, private readonly n: number, readonly perturbation: LowRankPerturbation) {
    const { dims, rank } = perturbation;
    this.layers = dims.length - 1;
    this.dims = ws.from('i32', dims);
    this.updateWork = ws.f64(Math.max(1, Math.ceil(ws.raw.lowRankUpdateWorkBytes(this.layers, this.dims.ptr, rank) / 8)));
    this.one = ws.from('f64', [1]);
  }

  update(k: number, coef: number, seed: number, draw: number, member0: number, antithetic: boolean, z: number, theta: number): void {
    this.ws.raw.lowRankUpdate(k, this.layers, this.dims.ptr, this.perturbation.rank, coef, seed, draw, member0, antithetic ? 1 : 0,
      z, theta, this.updateWork.ptr);
  }

  gram(k: number, seed: number, draw: number, member0: number, antithetic: boolean, theta: number, G: number, p: number): void {
    const { ws, perturbation: { rank } } = this;
    if (!this.gramWork || this.gramK < k) {
      if (this.gramWork) ws.free(this.gramWork);
      this.gramWork = ws.f64(Math.max(1, Math.ceil(ws.raw.lowRankGramWorkBytes(k, this.layers, this.dims.ptr, rank, antithetic ? 1 : 0) / 8)));
      this.gramK = k;
    }
    ws.raw.lowRankGram(k, this.layers, this.dims.ptr, rank, seed, draw, member0, antithetic ? 1 : 0, theta, G, p, this.gramWork.ptr);
  }

  // Row i = θ + σ·s_i·D_{q_i}: θ copied, then the update kernel with one unit coefficient on stream
  // q_i (pairs: q_i = ⌊i/2⌋, s_i = (−1)^i), exactly the member the fast path evaluates (up to f32).
  members(count: number, sigma: number, seed: number, draw: number, member0: number, antithetic: boolean, theta: number, dst: number): void {
    const { ws, n } = this;
    const mem = new Float64Array(ws.memory.buffer);
    for (let j = 0; j < count; j++) {
      const i = member0 + j;
      const row = dst + j * n * 8;
      mem.copyWithin(row / 8, theta / 8, theta / 8 + n);
      const q = antithetic ? Math.floor(i / 2) : i;
      const s = antithetic && i % 2 === 1 ? -1 : 1;
      ws.raw.lowRankUpdate(1, this.layers, this.dims.ptr, this.perturbation.rank, s * sigma, seed, draw, q, 0, this.one.ptr, row,
        this.updateWork.ptr);
    }
  }

  dispose(): void {
    for (const b of [this.dims, this.updateWork, this.gramWork, this.one]) if (b) this.ws.free(b);
    this.gramWork = null;
  }
}

/** The directions NLB draws for `options` (validated; see resolvePerturbation) over n parameters. */
export function createDirections(ws: Workspace, n: number, options: Pick<NlbOptions, 'perturbation' | 'blocks'>): Directions {
  const p = resolvePerturbation(options, n);
  return p ? new LowRankDirections(ws, n, p) : new GaussianDirections(ws, n);
}
