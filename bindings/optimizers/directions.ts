// NLB's perturbation families: how the k random directions of a draw are defined, as one interface
// the optimizer calls for the θ update (θ += coef·Σ z_i e_i), the Tikhonov Gram (ΞᵀΞ, Ξᵀθ) and
// explicit member rows θ + σ·e_i (evaluators without a fast path, ask/tell).
//   'gaussian': e_i = s_i·ξ_{q_i}, ξ ~ N(0, I_n) (perturb64, nlbUpdate, drawGram; docs/method.md §2.2);
//   'low-rank': e_i = s_i·D_{q_i} with rank-r weight blocks U Vᵀ/√r and Gaussian biases, defined for
//   weight blocks of any shapes (an MLP's layers, conv filter banks; assembly/lowrank-core.ts);
//   E[vec(D) vec(D)ᵀ] = I as for ξ, so the method is unchanged and only the cost of a member differs.
import type { Buf, Workspace } from '../workspace.js';
import { describe } from '../errors.js';
import type { LowRankPerturbation, NlbOptions } from './types.js';

/** Largest rank accepted (beyond it a rank-r member costs about as much as a dense one). */
export const MAX_RANK = 64;

/**
 * The request descriptor of NlbOptions.perturbation with its blocks, or undefined for 'gaussian'.
 * blocks: [W_1, b_1, W_2, b_2, …] shapes in θ's order, W_l with ≥ 2 dims (fanIn = product of all but
 * the last, fanOut = the last; a dense [d_in, d_out], a conv filter bank [kh, kw, c_in, c_out]) and
 * b_l = [fanOut], summing to n parameters. dims is set when the blocks chain as an MLP's do.
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
  const shapes = shapesOfBlocks(options.blocks, n);
  const dims = chainOf(options.blocks as number[][], shapes);
  return { kind: 'low-rank', rank, shapes, ...(dims && { dims }) };
}

const EXPECTED_BLOCKS = "blocks: θ's parameter shapes in order, each weight shape with ≥ 2 dims ([d_in, d_out] for a dense layer, " +
  '[kh, kw, c_in, c_out] for a conv filter bank: a fanIn × fanOut block, fanIn the product of all but the last dim, row-major) ' +
  'followed by its bias [fanOut], e.g. [[d_0, d_1], [d_1], [d_1, d_2], [d_2]]';
const I32_MAX = 2 ** 31 - 1;

// [fanIn, fanOut] of each weight block of blocks [W_1, [fanOut_1], W_2, [fanOut_2], …] that hold n parameters.
function shapesOfBlocks(blocks: unknown, n: number): [number, number][] {
  if (!Array.isArray(blocks) || blocks.length < 2 || blocks.length % 2 !== 0) {
    throw new TypeError(`A low-rank perturbation needs ${EXPECTED_BLOCKS}; got ${describe(blocks)}. fit() fills it in from the model's layers.`);
  }
  const isSize = (d: unknown): d is number => Number.isInteger(d) && (d as number) >= 1;
  const shapes: [number, number][] = [];
  let total = 0;
  for (let l = 0; l < blocks.length; l += 2) {
    const W = blocks[l] as unknown;
    const b = blocks[l + 1] as unknown;
    if (!Array.isArray(W) || W.length < 2 || !W.every(isSize)) {
      throw new TypeError(`blocks[${l}] must be a weight shape of ≥ 2 positive integers ([d_in, d_out] or [kh, kw, c_in, c_out]); ` +
        `got ${describe(W)}. Expected ${EXPECTED_BLOCKS}.`);
    }
    const fanOut = W[W.length - 1] as number;
    const fanIn = (W as number[]).slice(0, -1).reduce((s, d) => s * d, 1);
    if (!Array.isArray(b) || b.length !== 1 || b[0] !== fanOut) {
      throw new TypeError(`blocks[${l + 1}] must be the bias shape [${fanOut}] of the weights before it; got ${describe(b)}. Expected ${EXPECTED_BLOCKS}.`);
    }
    if (fanIn > I32_MAX || fanOut > I32_MAX) {
      throw new RangeError(`blocks[${l}] is a ${fanIn} × ${fanOut} block; each side must be ≤ ${I32_MAX} (split the layer).`);
    }
    shapes.push([fanIn, fanOut]);
    total += fanIn * fanOut + fanOut;
  }
  if (total !== n) {
    throw new RangeError(`blocks hold ${total} parameters but θ has n = ${n}; the shapes must cover θ exactly, in order.`);
  }
  return shapes;
}

// The MLP layer sizes d_0 … d_L when every weight shape is 2-D and each block takes the previous
// block's outputs (shapes [[d_0, d_1], [d_1, d_2], …]); else undefined.
function chainOf(blocks: readonly number[][], shapes: readonly (readonly [number, number])[]): number[] | undefined {
  for (let l = 0; l < shapes.length; l++) {
    if (blocks[2 * l].length !== 2 || (l > 0 && shapes[l][0] !== shapes[l - 1][1])) return undefined;
  }
  return [shapes[0][0], ...shapes.map((s) => s[1])];
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
  // shapes: i32 2L (fanIn, fanOut per block); updateWork: lowRankUpdateWorkBytes; gramWork: lowRankGramWorkBytes (by k, on
  // first use); one: f64 1 = [1] (the z of a single materialized member)
  private readonly shapes: Buf<'i32'>;
  private readonly updateWork: Buf<'f64'>;
  private gramWork: Buf<'f64'> | null = null;
  private gramK = 0;
  private readonly one: Buf<'f64'>;

  constructor(private readonly ws: Workspace, private readonly n: number, readonly perturbation: LowRankPerturbation) {
    const { shapes, rank } = perturbation;
    this.layers = shapes.length;
    this.shapes = ws.from('i32', shapes.flat());
    this.updateWork = ws.f64(Math.max(1, Math.ceil(ws.raw.lowRankUpdateWorkBytes(this.layers, this.shapes.ptr, rank) / 8)));
    this.one = ws.from('f64', [1]);
  }

  update(k: number, coef: number, seed: number, draw: number, member0: number, antithetic: boolean, z: number, theta: number): void {
    this.ws.raw.lowRankUpdate(k, this.layers, this.shapes.ptr, this.perturbation.rank, coef, seed, draw, member0, antithetic ? 1 : 0,
      z, theta, this.updateWork.ptr);
  }

  gram(k: number, seed: number, draw: number, member0: number, antithetic: boolean, theta: number, G: number, p: number): void {
    const { ws, perturbation: { rank } } = this;
    if (!this.gramWork || this.gramK < k) {
      if (this.gramWork) ws.free(this.gramWork);
      this.gramWork = ws.f64(Math.max(1, Math.ceil(ws.raw.lowRankGramWorkBytes(k, this.layers, this.shapes.ptr, rank, antithetic ? 1 : 0) / 8)));
      this.gramK = k;
    }
    ws.raw.lowRankGram(k, this.layers, this.shapes.ptr, rank, seed, draw, member0, antithetic ? 1 : 0, theta, G, p, this.gramWork.ptr);
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
      ws.raw.lowRankUpdate(1, this.layers, this.shapes.ptr, this.perturbation.rank, s * sigma, seed, draw, q, 0, this.one.ptr, row,
        this.updateWork.ptr);
    }
  }

  dispose(): void {
    for (const b of [this.shapes, this.updateWork, this.gramWork, this.one]) if (b) this.ws.free(b);
    this.gramWork = null;
  }
}

/** The directions NLB draws for `options` (validated; see resolvePerturbation) over n parameters. */
export function createDirections(ws: Workspace, n: number, options: Pick<NlbOptions, 'perturbation' | 'blocks'>): Directions {
  const p = resolvePerturbation(options, n);
  return p ? new LowRankDirections(ws, n, p) : new GaussianDirections(ws, n);
}
