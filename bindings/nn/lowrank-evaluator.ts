// The MLP evaluator's fast path for rank-r NLB members (request.perturbation, bindings/optimizers/
// directions.ts): lowRankForward runs θ and the members of one request in one call, with X·W_1
// shared by all of them and each member's rank-r correction added on top (assembly/lowrank.ts).
// The members' outputs depend on (θ, σ, seed, draw, i) and the batch only, so a request split into
// calls or across worker threads gives the same bits. Its scratch is sized by the largest call seen.
import type { LowRankPerturbation, PerturbedRequest } from '../optimizers/types.js';
import type { Buf, Workspace } from '../workspace.js';
import { mlpBlocks } from '../optimizers/directions.js';

/** What the fast path reads from its MlpEvaluator: its workspace and buffers (owned by the evaluator). */
export interface LowRankTarget {
  ws: Workspace;
  layers: readonly number[];
  /** Activation code of the hidden layers (the output layer is the identity: logits). */
  act: number;
  batchSize: number;
  /** dims: i32 L + 1; X: f32 batchSize × d_0; logits: f32 (rows of a call) × batchSize × d_L. */
  dims: Buf<'i32'>;
  X: Buf<'f32'>;
  logits: Buf<'f32'>;
}

export class LowRankForward {
  // work: lowRankForwardWorkBytes of the largest (members, rank, antithetic) seen
  private work: Buf<'f32'> | null = null;
  private workBytes = 0;

  constructor(private readonly t: LowRankTarget) {}

  /** logits = F of θ (with request.center) and of the request's rank-r members. */
  run(request: PerturbedRequest, p: LowRankPerturbation): void {
    const { ws, layers, dims, X, logits, act, batchSize } = this.t;
    const drawn = p.dims;
    if (!drawn || drawn.length !== layers.length || drawn.some((d, l) => d !== layers[l])) {
      const what = drawn ? `layers [${drawn.join(', ')}]` : `blocks ${p.shapes.map(([i, o]) => `${i}×${o}`).join(', ')} (not an MLP chain)`;
      throw new RangeError(`The low-rank members are drawn for ${what} but this network has [${layers.join(', ')}]; ` +
        'declare blocks that match the network (fit does this from the model).');
    }
    const raw = ws.raw;
    const L = layers.length - 1;
    const anti = request.antithetic ? 1 : 0;
    const bytes = raw.lowRankForwardWorkBytes(request.count, batchSize, L, dims.ptr, p.rank, anti);
    if (!this.work || bytes > this.workBytes) {
      if (this.work) ws.free(this.work);
      this.work = ws.f32(Math.max(4, Math.ceil(bytes / 4)));
      this.workBytes = bytes;
    }
    // sparse −1: the first layer runs on X's nonzeros when the batch is sparse enough (same bits)
    raw.lowRankForward(request.count, batchSize, L, act, 0, dims.ptr, p.rank, X.ptr, request.theta.ptr, request.sigma, request.seed,
      request.draw, request.member0, anti, request.center ? 1 : 0, -1, logits.ptr, this.work.ptr);
  }
}

const isLowRank = (o: Record<string, unknown>): boolean =>
  o.perturbation !== null && typeof o.perturbation === 'object' && (o.perturbation as { kind?: unknown }).kind === 'low-rank';

/** fit's process options with the network's blocks filled in for a low-rank perturbation (a copy;
 *  the saved options stay the user's): an MLP's layer sizes, or a model's blocks (bindings/nn/model.ts). */
export function withNetworkBlocks(options: Record<string, unknown>, layers: readonly number[] | readonly (readonly number[])[]): Record<string, unknown> {
  if (!isLowRank(options) || options.blocks !== undefined) return options;
  const blocks = layers.every((d) => typeof d === 'number') ? mlpBlocks(layers as readonly number[]) : layers;
  return { ...options, blocks };
}

/** Members per forward call in fit: the whole ensemble (and θ̄ for EKI), up to 64 dense members (bounds
 *  the activation buffers), up to 512 rank-r ones (they share X·W_1, so one call per iteration pays it once). */
export function membersPerCall(options: Record<string, unknown>): number {
  const k = options.ensembleSize;
  const cap = isLowRank(options) ? 512 : 64;
  return Math.min(cap, typeof k === 'number' ? k + 1 : 64);
}
