// The in-WebAssembly ensemble forward of a sequential() model (bindings/nn/sequential.ts), as an
// Evaluator for the optimizers (bindings/optimizers/types.ts): one seqForward call runs every
// requested member's f32 parameter row over the current mini-batch (assembly/seq.ts). Explicit f64
// rows (evaluate: EKI members, NLB candidates, θ alone) are narrowed into the rows; NLB's members
// (evaluatePerturbed) are generated straight into f32 rows by MemberRows — Gaussian ones by perturb32,
// rank-r ones by lowRankMembers — exactly the members the optimizer's directions define, rounded
// once, so a request split into calls or across worker threads gives the same bits. Rank-r members
// of a model whose layer 0 is dense or conv2d with real weights run through seqLowRankForward
// instead: layer 0 of θ and of each stream's factor shared by all members (the same members up to
// f32 rounding of layer 0, and again the same bits however the request is split). The row buffer grows only
// when a call needs more rows. The f32 logits are widened to the f64 outputs.
import type { Evaluator, LowRankPerturbation, PerturbedRequest } from '../optimizers/types.js';
import { MemberRows } from '../optimizers/lowrank-members.js';
import type { EnkfModule } from '../wasm.js';
import { Workspace, type Buf } from '../workspace.js';
import { checkInt } from '../errors.js';
import { checkEvaluatorCall, gatherRows } from './evaluator.js';
import { layerTable, LAYER_WORDS, placeLayers, type Placement, type SeqArchitecture } from './layers.js';

export interface SeqEvaluatorOptions {
  /** The model's architecture (Sequential.architecture()). */
  architecture: SeqArchitecture;
  /** Rows of every mini-batch. */
  batchSize: number;
  /** Most members per forward call (larger requests are split by the optimizer). */
  maxMembers: number;
}

/** F(θ) = the logits of a fixed-size mini-batch, m = batchSize × classes, sample-major. */
export class SeqEvaluator implements Evaluator {
  readonly n: number;
  readonly m: number;
  readonly maxMembers: number;
  readonly batchSize: number;
  readonly placement: Placement;
  private readonly ws: Workspace;
  private readonly layerCount: number;
  private readonly pStride: number;
  private readonly inputSize: number;
  private readonly classes: number;
  // table: i32 L × LAYER_WORDS; X: batchSize × inputSize; P: rows × pStride f32 parameter rows,
  // 1 ≤ rows ≤ maxMembers (grown on demand); logits: maxMembers × batchSize × classes; work: seqWorkBytes
  private readonly table: Buf<'i32'>;
  private readonly X: Buf<'f32'>;
  private P: Buf<'f32'>;
  private readonly logits: Buf<'f32'>;
  private readonly work: Buf<'f32'>;
  // the network descriptor of seqForward (written by describe())
  private readonly net: Buf<'i32'>;
  // the member rows of perturbed requests (its scratch lives in this workspace)
  private readonly members: MemberRows;
  // whether layer 0 is dense or conv2d with real weights (rank-r members then share it: seqLowRankForward)
  private readonly sharedFirst: boolean;
  private lrShapes: Buf<'i32'> | null = null;
  private lrWork: Buf<'f32'> | null = null;
  private lowRankKey = '';
  private describedRows = 0;
  private rowsInBatch = 0;
  private disposed = false;

  constructor(module: EnkfModule, o: SeqEvaluatorOptions) {
    const a = o.architecture;
    this.placement = placeLayers(a.layers, a.inputShape, a.init);
    this.batchSize = checkInt('batchSize', o.batchSize, 1);
    this.maxMembers = checkInt('maxMembers', o.maxMembers, 1);
    this.n = this.placement.n;
    this.inputSize = this.placement.inputSize;
    this.classes = this.placement.classes;
    this.m = this.batchSize * this.classes;
    const l0 = this.placement.layers[0];
    this.sharedFirst = l0.weights >= 0 && l0.range === 0;
    // Members' rows start 16-byte aligned for the SIMD loads.
    this.pStride = (this.n + 3) & ~3;
    const t = layerTable(this.placement);
    this.layerCount = t.length / LAYER_WORDS;
    this.ws = new Workspace(module);
    const ws = this.ws;
    try {
      this.table = ws.from('i32', t);
      const n = ws.raw.seqParamCount(this.layerCount, this.table.ptr);
      if (n !== this.n) throw new Error(`SeqEvaluator: the kernel counts ${n} parameters, the layout ${this.n}; the layer table is inconsistent.`);
      this.X = ws.f32(this.batchSize * this.inputSize);
      this.P = ws.f32(this.pStride);
      this.logits = ws.f32(this.maxMembers * this.m);
      this.work = ws.f32(Math.max(4, Math.ceil(ws.raw.seqWorkBytes(this.layerCount, this.table.ptr, this.batchSize) / 4)));
      this.net = ws.i32(ws.raw.seqNetworkBytes() / 4);
      this.members = new MemberRows(ws, this.n);
      this.describe(this.batchSize);
    } catch (e) {
      // a failed allocation gives back the buffers made before it
      ws.dispose();
      throw e;
    }
  }

  // Writes the network descriptor for `rows` rows (again after P is reallocated).
  private describe(rows: number): void {
    this.ws.raw.seqNetwork(this.net.ptr, this.layerCount, this.table.ptr, rows, this.X.ptr, this.P.ptr, this.pStride, this.logits.ptr, this.work.ptr);
    this.describedRows = rows;
  }

  /** Bytes of module memory this evaluator holds. */
  get bytes(): number {
    return this.ws.bytesInUse;
  }

  private alive(method: string): void {
    if (this.disposed) throw new Error(`SeqEvaluator.${method}: this SeqEvaluator was disposed; create a new one.`);
  }

  /** Loads the mini-batch: rows `index` of the row-major matrix `data` (inputSize columns). */
  setBatch(data: Float32Array, index: ArrayLike<number>): void {
    this.alive('setBatch');
    if (index.length !== this.batchSize) {
      throw new RangeError(`A mini-batch of ${index.length} rows was given to an evaluator built for ${this.batchSize}.`);
    }
    if (this.describedRows !== this.batchSize) this.describe(this.batchSize);
    gatherRows(this.X.view(), data, index, this.inputSize);
    this.rowsInBatch = index.length;
  }

  private checkCall(count: number, out: Buf<'f64'>): void {
    checkEvaluatorCall('SeqEvaluator', this.rowsInBatch === this.batchSize, count, this.maxMembers, this.m, out);
  }

  // P with room for `count` rows, replaced by a larger buffer when it has fewer.
  private rowsFor(count: number): Buf<'f32'> {
    if (this.P.length < count * this.pStride) {
      this.ws.free(this.P);
      this.P = this.ws.f32(count * this.pStride);
      this.describe(this.describedRows);
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
    raw.seqForward(this.net.ptr, count);
    raw.widen(count * this.m, this.logits.ptr, out.ptr);
  }

  evaluatePerturbed(request: PerturbedRequest, out: Buf<'f64'>): void {
    this.alive('evaluatePerturbed');
    const { theta, count, center } = request;
    const first = center ? 1 : 0;
    this.checkCall(count + first, out);
    if (theta.length < this.n) throw new RangeError(`θ holds ${theta.length} values; the network has ${this.n} parameters.`);
    const raw = this.ws.raw;
    const P = this.rowsFor(count + first);
    const p = request.perturbation;
    if (p) this.checkBlocks(p.shapes);
    if (p && this.sharedFirst) {
      // rank-r members: layer 0 of θ and of each stream's U_0 run once, shared by the members
      const anti = request.antithetic ? 1 : 0;
      const { shapes, work } = this.lowRankScratch(p, anti);
      raw.seqLowRankForward(this.net.ptr, count, p.rank, shapes, theta.ptr, request.sigma, request.seed, request.draw,
        request.member0, anti, first, work);
    } else {
      // docs/method.md §2.2–2.3: θ first with center, then θ + σ·s_i·e_i rounded to f32, all run in one call
      this.members.write(request, P.ptr, this.pStride);
      raw.seqForward(this.net.ptr, count + first);
    }
    raw.widen((count + first) * this.m, this.logits.ptr, out.ptr);
  }

  // The shapes and work of seqLowRankForward for `p` (re-made when the rank, blocks or pairing change;
  // sized for maxMembers members, so any call fits).
  private lowRankScratch(p: LowRankPerturbation, anti: number): { shapes: number; work: number } {
    const key = `${p.rank}|${anti}|${p.shapes.join(';')}`;
    if (key !== this.lowRankKey || !this.lrShapes || !this.lrWork) {
      for (const b of [this.lrShapes, this.lrWork]) if (b) this.ws.free(b);
      this.lrShapes = this.lrWork = null;
      const ws = this.ws;
      this.lrShapes = ws.from('i32', p.shapes.flat());
      const bytes = ws.raw.seqLowRankWorkBytes(this.layerCount, this.table.ptr, this.batchSize, this.lrShapes.ptr, p.rank,
        this.maxMembers, anti);
      this.lrWork = ws.f32(Math.max(4, Math.ceil(bytes / 4)));
      this.lowRankKey = key;
    }
    return { shapes: this.lrShapes.ptr, work: this.lrWork.ptr };
  }

  // Rank-r members must be drawn over this model's weight blocks (a mismatch would still cover n).
  private checkBlocks(shapes: readonly (readonly [number, number])[]): void {
    const blocks = this.placement.layers.filter((l) => l.weights >= 0);
    if (shapes.length !== blocks.length || shapes.some(([i, o], l) => i !== blocks[l].fanIn || o !== blocks[l].fanOut)) {
      throw new RangeError(`The low-rank members are drawn for blocks ${shapes.map(([i, o]) => `${i}×${o}`).join(', ')} but this model's ` +
        `weights are ${blocks.map((l) => `${l.fanIn}×${l.fanOut}`).join(', ')}; declare blocks that match the model (fit does this from it).`);
    }
  }

  /** The one-member forward of θ over `rows` rows of `data` (rows × inputSize f32), in chunks of
   *  batchSize rows: logits rows × classes. Any loaded mini-batch is dropped (call setBatch again). */
  logitsOf(theta: ArrayLike<number>, data: Float32Array, rows: number): Float32Array {
    this.alive('logitsOf');
    if (theta.length !== this.n) throw new RangeError(`θ holds ${theta.length} values; the network has ${this.n} parameters.`);
    this.rowsInBatch = 0;
    const { inputSize: d, classes: C, batchSize: B } = this;
    this.P.view().set(Float32Array.from(theta));
    const result = new Float32Array(rows * C);
    for (let r0 = 0; r0 < rows; r0 += B) {
      const count = Math.min(B, rows - r0);
      if (count !== this.describedRows) this.describe(count);
      this.X.view().set(data.subarray(r0 * d, (r0 + count) * d));
      this.ws.raw.seqForward(this.net.ptr, 1);
      result.set(this.logits.view().subarray(0, count * C), r0 * C);
    }
    return result;
  }

  /** Frees the evaluator's buffers; later calls of any method throw. A second dispose does nothing. */
  dispose(): void {
    this.disposed = true;
    this.ws.dispose();
  }
}
