// Exact last layer (beyond the paper; off by default): with the hidden layers fixed, the logits
// H·W + b are linear in the last layer's (W, b), and the softmax cross-entropy is convex in them
// (multinomial logistic regression). This solves that convex problem on the hidden features H of
// the training rows by L-BFGS: per evaluation the two products (H·W and Hᵀ·G) are sgemm calls and
// the loss and its gradient the ceLoss/ceGrad kernels, so the result is the same in every host.
//
//   minimize over W (d × C), b (C):  −(1/N) Σ_r log softmax(H_r·W + b)[y_r] + (l2/2)‖W‖²
//   gradient:  ∇_W = Hᵀ·G + l2·W,  ∇_b = Σ_r G_r,  G_r = (softmax(H_r·W + b) − e_{y_r})/N
//
// A sequential() model qualifies too: its last layer is dense with identity logits and no layer
// before it reads its parameters, so H is the output of the layers before it (run by seqForward in
// chunks of rows, SeqFeatures below) and the same convex problem follows.
import type { EnkfModule } from '../wasm.js';
import { Workspace, type Buf } from '../workspace.js';
import { ACTIVATION_CODE, parameterLayout, type Activation } from './mlp.js';
import { layerTable, LAYER_WORDS, type Placement } from './layers.js';

export interface LastLayerOptions {
  /** L-BFGS iterations per solve (default 30). */
  iterations?: number;
  /** Ridge weight on W (default 1e-4; biases are not penalized). */
  l2?: number;
}

/** L-BFGS history length. */
const MEMORY = 8;

/** Solves the last layer of an MLP exactly on fixed training rows (features recomputed per solve). */
export class LastLayerSolver {
  private readonly ws: Workspace;
  private readonly layers: readonly number[];
  private readonly act: number;
  private readonly rows: number;
  private readonly d: number;
  private readonly C: number;
  // X: rows × d_0 (training rows); H: rows × d hidden features; Z: rows × C f32 logits, then the
  // gradient rows narrowed for sgemm; Z64/G64: rows × C f64 logits and gradient rows; labels: i32 rows;
  // W: d × C, gW: d × C (f32 for sgemm); P: hidden stack parameters (f32); dims: i32 L; bufA/bufB, work: forward scratch
  private readonly X: Buf<'f32'>;
  private readonly H: Buf<'f32'>;
  private readonly Z: Buf<'f32'>;
  private readonly Z64: Buf<'f64'>;
  private readonly G64: Buf<'f64'>;
  private readonly labels: Buf<'i32'>;
  private readonly lossOut: Buf<'f64'>;
  private readonly W: Buf<'f32'>;
  private readonly gW: Buf<'f32'>;
  private readonly P: Buf<'f32'> | null;
  private readonly dims: Buf<'i32'> | null;
  private readonly bufA: Buf<'f32'> | null;
  private readonly bufB: Buf<'f32'> | null;
  private readonly work: Buf<'f32'>;
  // network descriptor of the hidden stack's mlpForward (null without hidden layers)
  private readonly net: Buf<'i32'> | null;
  private readonly hiddenParams: number;

  // the hidden features of a sequential model (null for an MLP)
  private readonly seq: SeqFeatures | null = null;

  /** For an MLP of layer sizes `layers`, or for a sequential model's placement (activation unused). */
  constructor(module: EnkfModule, layers: readonly number[] | Placement, activation: Activation, data: Float32Array, labels: Int32Array) {
    this.ws = new Workspace(module);
    if (!Array.isArray(layers)) {
      // a sequential model: the solver sees the MLP [features, classes] on H
      const p = layers as Placement;
      const last = p.layers[p.layers.length - 1];
      this.seq = new SeqFeatures(this.ws, p, data, labels.length);
      layers = [last.fanIn, last.fanOut];
    }
    this.layers = (layers as readonly number[]).slice();
    this.act = ACTIVATION_CODE[activation];
    const L = layers.length - 1;
    this.d = layers[L - 1];
    this.C = layers[L];
    this.rows = labels.length;
    const ws = this.ws;
    const raw = ws.raw;
    this.X = this.seq ? this.seq.H : ws.from('f32', data.subarray(0, this.rows * this.layers[0]));
    this.H = L > 1 ? ws.f32(this.rows * this.d) : this.X;
    this.Z = ws.f32(this.rows * this.C);
    this.Z64 = ws.f64(this.rows * this.C);
    this.G64 = ws.f64(this.rows * this.C);
    this.labels = ws.from('i32', labels);
    this.lossOut = ws.f64(1);
    this.W = ws.f32(this.d * this.C);
    this.gW = ws.f32(this.d * this.C);
    const last = parameterLayout(this.layers)[L - 1];
    this.hiddenParams = this.seq ? this.seq.hiddenParams : last.weights;
    if (L > 1) {
      this.P = ws.f32(this.hiddenParams);
      this.dims = ws.from('i32', layers.slice(0, L));
      const widest = Math.max(1, ...layers.slice(1, L - 1));
      this.bufA = ws.f32(this.rows * widest);
      this.bufB = ws.f32(this.rows * widest);
    } else {
      this.P = this.dims = this.bufA = this.bufB = null;
    }
    const fwdWork = L > 1 ? raw.mlpWorkBytes(this.rows, L - 1, this.dims!.ptr) : 0;
    const gemmWork = Math.max(raw.sgemmWorkBytes(this.rows, this.C, this.d), raw.sgemmWorkBytes(this.d, this.C, this.rows));
    this.work = ws.f32(Math.max(1, Math.ceil(Math.max(fwdWork, gemmWork) / 4)));
    this.net = L > 1 ? ws.i32(raw.mlpNetworkBytes() / 4) : null;
    if (this.net) {
      raw.mlpNetwork(this.net.ptr, L - 1, this.act, this.act, this.rows, this.dims!.ptr, this.X.ptr, this.P!.ptr,
        this.hiddenParams, this.H.ptr, this.bufA!.ptr, this.bufB!.ptr, this.work.ptr);
    }
  }

  /** Returns θ with its last layer replaced by the (approximate, `iterations`-step) minimizer,
   *  warm-started from θ's own last layer. θ is not modified. */
  solve(theta: Float64Array, options: LastLayerOptions = {}): Float64Array {
    if (this.ws.disposed) throw new Error('This LastLayerSolver was disposed; create a new one (its buffers were given back).');
    const iterations = options.iterations ?? 30;
    const l2 = options.l2 ?? 1e-4;
    const L = this.layers.length - 1;
    const raw = this.ws.raw;
    if (this.seq) this.seq.run(theta);
    else if (L > 1) {
      // H = hidden activations of every training row: one mlpForward over the hidden stack.
      this.P!.set(Float32Array.from(theta.subarray(0, this.hiddenParams)));
      raw.mlpForward(this.net!.ptr, 1);
    }
    const size = this.d * this.C + this.C;
    const x = Float64Array.from(theta.subarray(this.hiddenParams, this.hiddenParams + size));
    const g = new Float64Array(size);
    let f = this.objective(x, g, l2);
    // L-BFGS (two-loop recursion) with Armijo backtracking.
    const S: Float64Array[] = [];
    const Y: Float64Array[] = [];
    const rho: number[] = [];
    const dir = new Float64Array(size);
    const xNew = new Float64Array(size);
    const gNew = new Float64Array(size);
    const alpha = new Float64Array(MEMORY);
    for (let it = 0; it < iterations; it++) {
      dir.set(g);
      for (let j = S.length - 1; j >= 0; j--) {
        alpha[j] = rho[j] * dot(S[j], dir);
        axpy(-alpha[j], Y[j], dir);
      }
      // Initial Hessian scale sᵀy/yᵀy of the newest pair (1/‖g‖ on the first step).
      const gamma = S.length ? dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1]) : 1 / Math.sqrt(dot(g, g));
      for (let i = 0; i < size; i++) dir[i] *= gamma;
      for (let j = 0; j < S.length; j++) {
        const beta = rho[j] * dot(Y[j], dir);
        axpy(alpha[j] - beta, S[j], dir);
      }
      const slope = -dot(g, dir);
      if (!(slope < 0)) break; // not a descent direction: converged to rounding
      let step = 1;
      let fNew = Infinity;
      for (let ls = 0; ls < 20; ls++) {
        for (let i = 0; i < size; i++) xNew[i] = x[i] - step * dir[i];
        fNew = this.objective(xNew, gNew, l2);
        if (fNew <= f + 1e-4 * step * slope) break;
        step *= 0.5;
      }
      if (!(fNew < f)) break;
      const s = new Float64Array(size);
      const y = new Float64Array(size);
      for (let i = 0; i < size; i++) {
        s[i] = xNew[i] - x[i];
        y[i] = gNew[i] - g[i];
      }
      const sy = dot(s, y);
      if (sy > 1e-12) {
        if (S.length === MEMORY) {
          S.shift();
          Y.shift();
          rho.shift();
        }
        S.push(s);
        Y.push(y);
        rho.push(1 / sy);
      }
      x.set(xNew);
      g.set(gNew);
      f = fNew;
    }
    const out = theta.slice();
    out.set(x, this.hiddenParams);
    return out;
  }

  /** f(x) and its gradient into g, for x = [W (d × C) row-major, b (C)]. */
  private objective(x: Float64Array, g: Float64Array, l2: number): number {
    const { d, C, rows } = this;
    const raw = this.ws.raw;
    this.W.set(Float32Array.from(x.subarray(0, d * C)));
    // Z = H·W (rows × C)
    raw.sgemm(0, 0, rows, C, d, 1, this.H.ptr, d, this.W.ptr, C, 0, this.Z.ptr, C, this.work.ptr);
    const m = rows * C;
    raw.widen(m, this.Z.ptr, this.Z64.ptr);
    const z = this.Z64.view();
    const b = x.subarray(d * C);
    for (let r = 0; r < m; r += C) for (let c = 0; c < C; c++) z[r + c] += b[c];
    // mean cross-entropy and G = (softmax − e_y)/N of the logits (docs/method.md §1)
    raw.ceLoss(1, rows, C, this.Z64.ptr, this.labels.ptr, this.lossOut.ptr, 0);
    raw.ceGrad(1, rows, C, this.Z64.ptr, this.labels.ptr, this.G64.ptr);
    const gr = this.G64.view();
    g.fill(0);
    for (let r = 0; r < m; r += C) for (let c = 0; c < C; c++) g[d * C + c] += gr[r + c];
    raw.narrow(m, this.G64.ptr, this.Z.ptr);
    // ∇_W = Hᵀ·G (d × C)
    raw.sgemm(1, 0, d, C, rows, 1, this.H.ptr, d, this.Z.ptr, C, 0, this.gW.ptr, C, this.work.ptr);
    const gw = this.gW.view();
    let ridge = 0;
    for (let i = 0; i < d * C; i++) {
      g[i] = gw[i] + l2 * x[i];
      ridge += x[i] * x[i];
    }
    return this.lossOut.view()[0] + 0.5 * l2 * ridge;
  }

  /** Gives the buffers back; a later solve() throws. Idempotent. */
  dispose(): void {
    this.ws.dispose();
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

/** Rows per seqForward call of the features (bounds the activations' scratch). */
const FEATURE_CHUNK = 256;

/** H (rows × fanIn of the last layer) = the output of a sequential model's layers before the last. */
class SeqFeatures {
  readonly H: Buf<'f32'>;
  readonly hiddenParams: number;
  private readonly ops: number;
  // X: rows × inputSize (training rows); table: i32 ops × LAYER_WORDS of the layers before the last;
  // P: f32 their parameters; work, net: seqForward scratch and descriptor (chunk rows)
  private readonly X: Buf<'f32'> | null = null;
  private readonly table: Buf<'i32'> | null = null;
  private readonly P: Buf<'f32'> | null = null;
  private readonly work: Buf<'f32'> | null = null;
  private readonly net: Buf<'i32'> | null = null;

  constructor(private readonly ws: Workspace, p: Placement, data: Float32Array, private readonly rows: number) {
    const last = p.layers[p.layers.length - 1];
    this.hiddenParams = last.weights;
    const before: Placement = { ...p, layers: p.layers.slice(0, -1) };
    const t = layerTable(before);
    this.ops = t.length / LAYER_WORDS;
    // without a layer that moves data the features are the rows themselves
    this.H = ws.from('f32', data.subarray(0, rows * p.inputSize));
    if (this.ops === 0) return;
    this.X = this.H;
    this.H = ws.f32(rows * last.fanIn);
    this.table = ws.from('i32', t);
    this.P = ws.f32(Math.max(4, (this.hiddenParams + 3) & ~3));
    const chunk = Math.min(rows, FEATURE_CHUNK);
    this.work = ws.f32(Math.max(4, Math.ceil(ws.raw.seqWorkBytes(this.ops, this.table.ptr, chunk) / 4)));
    this.net = ws.i32(ws.raw.seqNetworkBytes() / 4);
  }

  /** H of θ's layers before the last. */
  run(theta: Float64Array): void {
    if (this.ops === 0) return;
    const raw = this.ws.raw;
    this.P!.view().set(Float32Array.from(theta.subarray(0, this.hiddenParams)));
    const d0 = this.X!.length / this.rows;
    const d = this.H.length / this.rows;
    const pStride = this.P!.length;
    for (let r0 = 0; r0 < this.rows; r0 += FEATURE_CHUNK) {
      const n = Math.min(FEATURE_CHUNK, this.rows - r0);
      raw.seqNetwork(this.net!.ptr, this.ops, this.table!.ptr, n, this.X!.byteOffset(r0 * d0), this.P!.ptr, pStride,
        this.H.byteOffset(r0 * d), this.work!.ptr);
      raw.seqForward(this.net!.ptr, 1);
    }
  }
}
