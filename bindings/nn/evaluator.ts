// The in-WebAssembly ensemble forward of an MLP, as an Evaluator for the optimizers
// (bindings/optimizers/types.ts). One kernel call runs every requested member over the current
// mini-batch (docs/method.md §4). NLB's fast path (evaluatePerturbed) is mlpForwardPerturbed: each
// member's f32 parameters are generated from θ and the counter RNG into a scratch row (two for an
// antithetic pair ±ξ) and run through the network before the next member's, so no member matrix
// is stored (memory O(n + m·k), docs/method.md §2.2). Explicit f64 rows (evaluate: EKI members, NLB
// candidates, θ alone) are narrowed into rows of the same buffer and run by mlpForward. The buffer
// starts with one row and grows only when a call needs more: two for antithetic pairs, `count` for
// explicit rows (EKI: up to maxMembers). The f32 logits are widened to the f64 outputs.
import type { Evaluator, PerturbedRequest } from '../optimizers/types.js';
import type { EnkfModule } from '../wasm.js';
import { Workspace, type Buf } from '../workspace.js';
import { checkInt } from '../errors.js';
import { ACTIVATION_CODE, type Activation } from './mlp.js';
import { LowRankForward } from './lowrank-evaluator.js';

/** Copies rows `index` of the row-major matrix `data` (`width` columns) into x, one after another
 *  (the mini-batch of an evaluator; both evaluators load their batch this way). */
export function gatherRows(x: Float32Array, data: Float32Array, index: ArrayLike<number>, width: number): void {
  for (let i = 0; i < index.length; i++) {
    const r = index[i];
    x.set(data.subarray(r * width, (r + 1) * width), i * width);
  }
}

/** The checks every evaluator call makes: a batch was loaded, 1 ≤ count ≤ maxMembers, and `out`
 *  holds count × m values. `name` is the evaluator's class in the message. */
export function checkEvaluatorCall(name: string, loaded: boolean, count: number, maxMembers: number, m: number, out: Buf<'f64'>): void {
  if (!loaded) throw new Error(`${name}: call setBatch before evaluating.`);
  checkInt('count', count, 1, maxMembers);
  if (out.length < count * m) {
    throw new RangeError(`Output buffer holds ${out.length} values; ${count} members × m = ${m} need ${count * m}.`);
  }
}

export interface MlpEvaluatorOptions {
  /** Layer sizes [d_0, …, d_L]. */
  layers: readonly number[];
  activation: Activation;
  /** Rows of every mini-batch. */
  batchSize: number;
  /** Most members per forward call (larger requests are split by the optimizer). */
  maxMembers: number;
}

/** F(θ) = the logits of a fixed-size mini-batch, m = batchSize × classes, sample-major. */
export class MlpEvaluator implements Evaluator {
  readonly n: number;
  readonly m: number;
  readonly maxMembers: number;
  readonly batchSize: number;
  private readonly ws: Workspace;
  private readonly layers: readonly number[];
  private readonly act: number;
  private readonly pStride: number;
  // dims: i32 L+1; X: batchSize × d_0; P: rows × pStride f32 parameter rows (layout of mlp.ts), the
  // fast path's scratch or explicit rows, 1 ≤ rows ≤ maxMembers (grown on demand);
  // logits: maxMembers × batchSize × d_L; bufA, bufB: batchSize × widest hidden layer (shared by the members).
  private readonly dims: Buf<'i32'>;
  private readonly X: Buf<'f32'>;
  private P: Buf<'f32'>;
  private readonly logits: Buf<'f32'>;
  private readonly bufA: Buf<'f32'>;
  private readonly bufB: Buf<'f32'>;
  private readonly work: Buf<'f32'>;
  // the network descriptor of mlpForward / mlpForwardPerturbed (written by describe())
  private readonly net: Buf<'i32'>;
  private rowsInBatch = 0;
  private disposed = false;
  // the fast path of rank-r members (made on first use)
  private lowRank: LowRankForward | null = null;

  constructor(module: EnkfModule, o: MlpEvaluatorOptions) {
    this.layers = o.layers.slice();
    this.batchSize = checkInt('batchSize', o.batchSize, 1);
    this.maxMembers = checkInt('maxMembers', o.maxMembers, 1);
    this.act = ACTIVATION_CODE[o.activation];
    const L = this.layers.length - 1;
    let n = 0;
    for (let l = 0; l < L; l++) n += this.layers[l] * this.layers[l + 1] + this.layers[l + 1];
    this.n = n;
    this.m = this.batchSize * this.layers[L];
    // Members' rows start 16-byte aligned for the SIMD loads.
    this.pStride = (n + 3) & ~3;
    const widest = Math.max(1, ...this.layers.slice(1, L));
    this.ws = new Workspace(module);
    const ws = this.ws;
    try {
      this.dims = ws.from('i32', this.layers);
      this.X = ws.f32(this.batchSize * this.layers[0]);
      this.P = ws.f32(this.pStride);
      this.logits = ws.f32(this.maxMembers * this.m);
      this.bufA = ws.f32(this.batchSize * widest);
      this.bufB = ws.f32(this.batchSize * widest);
      this.work = ws.f32(Math.max(1, Math.ceil(ws.raw.mlpWorkBytes(this.batchSize, L, this.dims.ptr) / 4)));
      this.net = ws.i32(ws.raw.mlpNetworkBytes() / 4);
      this.describe();
    } catch (e) {
      // a failed allocation gives back the buffers made before it
      ws.dispose();
      throw e;
    }
  }

  // Writes the network descriptor (again after P is reallocated).
  private describe(): void {
    this.ws.raw.mlpNetwork(this.net.ptr, this.layers.length - 1, this.act, ACTIVATION_CODE.identity, this.batchSize,
      this.dims.ptr, this.X.ptr, this.P.ptr, this.pStride, this.logits.ptr, this.bufA.ptr, this.bufB.ptr, this.work.ptr);
  }

  /** Bytes of module memory this evaluator holds. */
  get bytes(): number {
    return this.ws.bytesInUse;
  }

  // Every method refuses a disposed evaluator before touching memory: its buffers' offsets may
  // belong to another problem's buffers by now.
  private alive(method: string): void {
    if (this.disposed) throw new Error(`MlpEvaluator.${method}: this MlpEvaluator was disposed; create a new one.`);
  }

  /** Loads the mini-batch: rows `index` of the row-major matrix `data` (d_0 columns). */
  setBatch(data: Float32Array, index: ArrayLike<number>): void {
    this.alive('setBatch');
    if (index.length !== this.batchSize) {
      throw new RangeError(`A mini-batch of ${index.length} rows was given to an evaluator built for ${this.batchSize}.`);
    }
    gatherRows(this.X.view(), data, index, this.layers[0]);
    this.rowsInBatch = index.length;
  }

  private checkCall(count: number, out: Buf<'f64'>): void {
    checkEvaluatorCall('MlpEvaluator', this.rowsInBatch === this.batchSize, count, this.maxMembers, this.m, out);
  }

  // P with room for `count` rows, replaced by a larger buffer when it has fewer.
  private rowsFor(count: number): Buf<'f32'> {
    if (this.P.length < count * this.pStride) {
      this.ws.free(this.P);
      this.P = this.ws.f32(count * this.pStride);
      this.describe();
    }
    return this.P;
  }

  evaluate(rows: Buf<'f64'>, count: number, out: Buf<'f64'>): void {
    this.alive('evaluate');
    this.checkCall(count, out);
    if (rows.length < count * this.n) {
      throw new RangeError(`Parameter rows hold ${rows.length} values; ${count} members × n = ${this.n} need ${count * this.n}.`);
    }
    const raw = this.ws.raw;
    const P = this.rowsFor(count);
    for (let r = 0; r < count; r++) raw.narrow(this.n, rows.byteOffset(r * this.n), P.byteOffset(r * this.pStride));
    raw.mlpForward(this.net.ptr, count);
    raw.widen(count * this.m, this.logits.ptr, out.ptr);
  }

  evaluatePerturbed(request: PerturbedRequest, out: Buf<'f64'>): void {
    this.alive('evaluatePerturbed');
    const { theta, sigma, seed, draw, member0, count, antithetic, center } = request;
    const first = center ? 1 : 0;
    this.checkCall(count + first, out);
    if (theta.length < this.n) throw new RangeError(`θ holds ${theta.length} values; the network has ${this.n} parameters.`);
    const raw = this.ws.raw;
    if (request.perturbation) {
      const { ws, layers, act, batchSize, dims, X, logits } = this;
      (this.lowRank ??= new LowRankForward({ ws, layers, act, batchSize, dims, X, logits })).run(request, request.perturbation);
      raw.widen((count + first) * this.m, this.logits.ptr, out.ptr);
      return;
    }
    // an antithetic pair is generated into two rows at once (one pass of its stream)
    this.rowsFor(antithetic && count > 1 ? 2 : 1);
    // docs/method.md §2.2–2.3: members θ + σ·s_i·ξ_{q_i} generated member by member into the scratch
    // and run at once (θ itself first with center), all k + 1 forward passes in one call (docs/method.md §4).
    raw.mlpForwardPerturbed(this.net.ptr, count, theta.ptr, sigma, seed, draw, member0, antithetic ? 1 : 0, first);
    raw.widen((count + first) * this.m, this.logits.ptr, out.ptr);
  }

  /** Frees the evaluator's buffers; later calls of any method throw. A second dispose does nothing. */
  dispose(): void {
    this.disposed = true;
    this.ws.dispose();
  }
}
