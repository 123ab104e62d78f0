// The ABI of enkf.wasm: the hand-typed interface of its raw exports (the one place that says
// what every kernel takes), shared by the loader (wasm.ts) and everything that calls a kernel.
//
// ABI conventions (every kernel): BLAS argument order — sizes, then scalars, then pointers.
// Pointers are byte offsets into `memory`, 16-byte aligned when they come from `alloc`.
// Matrices are row-major; "k×m" means k rows (members) of m contiguous values.
// f32 for forward passes, f64 for ensemble-space algebra and θ (docs/method.md §5).
// include/enkf.h gives the same exports with their exact WebAssembly signatures, for C hosts.

type Ptr = number;

// The host types these declarations name, declared here so that a project without the DOM lib
// (Node, lib: ["es2022"]) type-checks them. They merge with the DOM lib's and @types/node's full
// declarations: empty ones add nothing, and Memory's members are exactly the DOM lib's.
declare global {
  namespace WebAssembly {
    interface Module {}
    interface Memory {
      readonly buffer: ArrayBuffer;
      grow(delta: number): number;
    }
  }
  interface URL {}
  interface Response {}
  interface Blob {}
  interface AbortSignal {}
}

/** The raw exports of enkf.wasm (and of the scalar fallback, which has the same exports). */
export interface RawExports {
  readonly memory: WebAssembly.Memory;

  // memory.ts
  /** A zero-filled, 16-byte aligned block of `bytes` bytes. */
  alloc(bytes: number): Ptr;
  free(ptr: Ptr): void;
  memoryBytes(): number;
  simdEnabled(): number;

  // gemm.ts — C(M×N) = alpha·op(A)·op(B) + beta·C, row-major; op(A) M×K, op(B) K×N, f32.
  sgemm(transA: number, transB: number, M: number, N: number, K: number, alpha: number,
    A: Ptr, lda: number, B: Ptr, ldb: number, beta: number, C: Ptr, ldc: number, work: Ptr): void;
  /** Bytes of scratch `work` that sgemm needs for these sizes (B panel packing). */
  sgemmWorkBytes(M: number, N: number, K: number): number;

  // dense.ts, net.ts — fused layers for a whole ensemble; act: 0 identity, 1 relu, 2 tanh, 3 sigmoid.
  /** Y_j(rows×outDim) = act(X_j(rows×inDim)·W_j(inDim×outDim) + b_j) for j < members.
   *  Strides are in floats between members; xStride = 0 shares one X across members. */
  denseEnsemble(members: number, rows: number, inDim: number, outDim: number, act: number,
    X: Ptr, xStride: number, W: Ptr, b: Ptr, pStride: number, Y: Ptr, yStride: number, work: Ptr): void;
  /** Bytes of a network descriptor (48). */
  mlpNetworkBytes(): number;
  /** Writes the network descriptor at `net` (mlpNetworkBytes() bytes, 4-aligned) and checks it as a
   *  one-member call would. The descriptor holds, as i32 words in this argument order:
   *  layers, act (hidden layers), outAct (last layer), rows, dims (i32[layers+1]), X (rows×d_0 f32,
   *  shared by all members), P (f32 parameter rows pStride apart, per layer W (d_l×d_{l+1}) then
   *  b (d_{l+1})), pStride, out (members×rows×d_L f32), bufA, bufB (rows×max(d_1..d_{L-1}) f32 each,
   *  reused by every member), work (mlpWorkBytes bytes, 16-aligned). Write it again whenever one
   *  of these changes (a reallocated buffer, another row count). */
  mlpNetwork(net: Ptr, layers: number, act: number, outAct: number, rows: number, dims: Ptr, X: Ptr,
    P: Ptr, pStride: number, out: Ptr, bufA: Ptr, bufB: Ptr, work: Ptr): void;
  /** Whole MLP forward of the `members` parameter rows in the descriptor's P, member by member
   *  through all layers, into its out (members×rows×d_L). */
  mlpForward(net: Ptr, members: number): void;
  /** mlpForward of the NLB members θ + σ·s_i·ξ_{q_i}, i = member0 + r, r < members (as perturb32
   *  writes them, bit for bit), without storing them: each member's f32 parameters are generated
   *  into the descriptor's P (1 row, or 2 with antithetic pairs and members ≥ 2: a ±ξ pair from one
   *  generation) and run through all layers before the next. theta: f64 n (n = parameter count);
   *  draw: the RNG draw counter; center ≠ 0 runs θ (rounded to f32) first as slice 0;
   *  out: (center + members)×rows×d_L. Memory O(n + rows·width), not O(members·n). */
  mlpForwardPerturbed(net: Ptr, members: number, theta: Ptr, sigma: number, seed: number, draw: number,
    member0: number, antithetic: number, center: number): void;
  /** Bytes of scratch `work` that mlpForward / mlpForwardPerturbed / denseEnsemble need. */
  mlpWorkBytes(rows: number, layers: number, dims: Ptr): number;

  // rng.ts — counter-based N(0,1): value (seed, draw, member, index) is a pure function.
  /** out[j] = N(seed, draw, member, offset + j), j < n (f64). */
  randn(n: number, seed: number, draw: number, member: number, offset: number, out: Ptr): void;
  /** Row r (global member i = member0 + r) = θ + σ·s_i·ξ_{q_i}; q_i = i, s_i = 1, or with
   *  antithetic pairs q_i = ⌊i/2⌋, s_i = (−1)^i. theta: f64 n; out: f64 k×n. */
  perturb64(k: number, n: number, sigma: number, seed: number, draw: number, member0: number,
    antithetic: number, theta: Ptr, out: Ptr): void;
  /** As perturb64 with f32 output rows of stride `outStride` floats (network parameters). */
  perturb32(k: number, n: number, sigma: number, seed: number, draw: number, member0: number,
    antithetic: number, outStride: number, theta: Ptr, out: Ptr): void;
  /** θ += coef·Σ_i z_i·s_i·ξ_{q_i} over members i = member0..member0+k−1, regenerating ξ
   *  (E is never stored; docs/method.md §2.2). z: f64 k; theta: f64 n. One term per stream:
   *  a member (c = coef·z_i) or, with antithetic pairs, a pair (2u, 2u+1) sharing ξ_u
   *  (c = coef·(z_2u − z_2u+1)); terms are added to each θ_j one by one in ascending stream
   *  order, so consecutive calls over a split member range give the same bits. With antithetic
   *  pairs member0 and k must be even (pairs are never split across calls). */
  nlbUpdate(k: number, n: number, coef: number, seed: number, draw: number, member0: number,
    antithetic: number, z: Ptr, theta: Ptr): void;
  /** The Tikhonov terms in one generator pass: with e_i = s_i·ξ_{q_i} (member i = member0 + r),
   *  G(k×k) = [e_a·e_b] (ΞᵀΞ, exactly symmetric), p(k) = [e_a·θ] (Ξᵀθ), f64 accumulation.
   *  With antithetic pairs member0 and k must be even; k ≤ 8192 (16384 with pairs).
   *  theta: f64 n; G: f64 k×k; p: f64 k (no overlaps). */
  drawGram(k: number, n: number, seed: number, draw: number, member0: number, antithetic: number,
    theta: Ptr, G: Ptr, p: Ptr): void;

  // lsq.ts, crossentropy.ts, eki.ts, convert.ts — f64 accumulation; ΔF_i = F_i − c;
  // W = diag(w) if w ≠ 0 else wScalar·I.
  /** out(m) = (1/k)·Σ_i F_i. */
  meanRows(k: number, m: number, F: Ptr, out: Ptr): void;
  /** A(k×k) = ΔFᵀWΔF, r(k) = ΔFᵀW(y − c); returns ½(y − c)ᵀW(y − c). */
  lsSystem(k: number, m: number, wScalar: number, F: Ptr, c: Ptr, w: Ptr, y: Ptr, A: Ptr, r: Ptr): number;
  /** Softmax cross-entropy, m = B·C logits, H and g at c (mean over B samples):
   *  A = ΔFᵀHΔF, r = −ΔFᵀg; returns the loss at c. labels: i32 B. */
  ceSystem(k: number, B: number, C: number, F: Ptr, c: Ptr, labels: Ptr, A: Ptr, r: Ptr): number;
  /** R(k×p): R_iq = ΔF_iᵀ W V_q, V: p×m. */
  projectRows(k: number, m: number, p: number, wScalar: number, F: Ptr, c: Ptr, w: Ptr, V: Ptr, R: Ptr): void;
  /** out(m) = Σ_i z_i ΔF_i; returns max |out|. */
  combineRows(k: number, m: number, F: Ptr, c: Ptr, z: Ptr, out: Ptr): number;
  /** out_i = ½(F_i − y)ᵀW(F_i − y). */
  lsLoss(k: number, m: number, wScalar: number, F: Ptr, w: Ptr, y: Ptr, out: Ptr): void;
  /** out_i = mean cross-entropy of member i; correct_i = #argmax hits (correct may be 0). */
  ceLoss(k: number, B: number, C: number, F: Ptr, labels: Ptr, out: Ptr, correct: Ptr): void;
  /** G_i (B·C) = ∇ of the mean cross-entropy at F_i = (softmax(F_ib) − e_label)/B. */
  ceGrad(k: number, B: number, C: number, F: Ptr, labels: Ptr, G: Ptr): void;
  /** Θ_j += Σ_l Z_lj (Θ_l − θ̄) for the persistent EKI ensemble Θ (J×n), Z: J×J;
   *  work: f64 n + J·256. */
  ekiUpdate(J: number, n: number, Theta: Ptr, Z: Ptr, work: Ptr): void;
  /** dst(f64 n) = src(f32 n). */
  widen(n: number, src: Ptr, dst: Ptr): void;
  /** dst(f32 n) = src(f64 n), rounded to nearest. */
  narrow(n: number, src: Ptr, dst: Ptr): void;

  // finite.ts
  /** flags_i (i32) = 1 when every value of row i of F (f64 k×m) is finite, else 0, decided exactly
   *  (also for huge finite values); returns the number of finite rows. */
  finiteRows(k: number, m: number, F: Ptr, flags: Ptr): number;

  // cholesky.ts — f64, row-major.
  /** L = chol(A + shift·I), lower triangle, upper zeroed (A and L may alias). Returns 0, or
   *  p + 1 when pivot p is not positive. */
  cholesky(n: number, shift: number, A: Ptr, L: Ptr): number;
  /** B(n×nrhs) ← (L·Lᵀ)⁻¹·B in place. */
  cholSolve(n: number, nrhs: number, L: Ptr, B: Ptr): void;

  // lowrank.ts — NLB with rank-r members: e_i = s_i·D_{q_i}, D per layer U_l V_lᵀ/√r and β_l, the
  // factors read from stream q_i at [U_l (d_{l−1}×r), V_l (d_l×r), β_l (d_l)] blocks, layer by layer
  // (assembly/lowrank-core.ts). dims: i32[layers+1]; theta: f64 n in the layout of bindings/nn/mlp.ts.
  /** The rank-r ensemble forward: out((center + members)×rows×d_L, f32) = the members θ + σ·e_i,
   *  i = member0 + j (θ first when center ≠ 0), one shared GEMM X·[W_1 | U_1 …] per call.
   *  sparse: 1 visits only X's nonzeros in that GEMM, 0 dense, −1 by X's nonzero fraction (same bits). */
  lowRankForward(members: number, rows: number, layers: number, act: number, outAct: number, dims: Ptr,
    rank: number, X: Ptr, theta: Ptr, sigma: number, seed: number, iter: number, member0: number,
    antithetic: number, center: number, sparse: number, out: Ptr, work: Ptr): void;
  /** Bytes of scratch `work` lowRankForward needs. */
  lowRankForwardWorkBytes(members: number, rows: number, layers: number, dims: Ptr, rank: number, antithetic: number): number;
  // lowrank-update.ts, lowrank-members.ts — the same directions for weight blocks of any shapes:
  // shapes: i32[2·layers] = [fanIn_1, fanOut_1, fanIn_2, fanOut_2, …] (an MLP: [d_0, d_1, d_1, d_2, …],
  // same bits as its dims); theta: f64 n, per block W (fanIn×fanOut) then b (fanOut).
  /** θ += coef·Σ_i z_i e_i (the contract of nlbUpdate; split calls give the same bits; whole pairs).
   *  z: f64 k; work: lowRankUpdateWorkBytes bytes. */
  lowRankUpdate(k: number, layers: number, shapes: Ptr, rank: number, coef: number, seed: number, iter: number,
    member0: number, antithetic: number, z: Ptr, theta: Ptr, work: Ptr): void;
  /** Bytes of scratch `work` lowRankUpdate needs. */
  lowRankUpdateWorkBytes(layers: number, shapes: Ptr, rank: number): number;
  /** G(k×k) = [e_a·e_b], p(k) = [e_a·θ] in closed form from the factors (the contract of drawGram).
   *  work: lowRankGramWorkBytes bytes. */
  lowRankGram(k: number, layers: number, shapes: Ptr, rank: number, seed: number, iter: number, member0: number,
    antithetic: number, theta: Ptr, G: Ptr, p: Ptr, work: Ptr): void;
  /** Bytes of scratch `work` lowRankGram needs (every stream's coordinates, f64). */
  lowRankGramWorkBytes(k: number, layers: number, shapes: Ptr, rank: number, antithetic: number): number;
  /** f32 parameter rows dstStride floats apart: [θ if center ≠ 0], then θ + σ·s_i·D_{q_i} for members
   *  i = member0 … member0 + count − 1, each entry the f64 value of lowRankUpdate's single member
   *  rounded once. work: lowRankMembersWorkBytes bytes. */
  lowRankMembers(count: number, layers: number, shapes: Ptr, rank: number, sigma: number, seed: number, draw: number,
    member0: number, antithetic: number, center: number, theta: Ptr, dst: Ptr, dstStride: number, work: Ptr): void;
  /** Bytes of scratch `work` lowRankMembers needs (one stream's coordinates and a block's w·Vᵀ). */
  lowRankMembersWorkBytes(layers: number, shapes: Ptr, rank: number): number;

  // seq.ts — sequential networks (dense, conv2d, maxPool2d, avgPool2d) from a layer table of
  // L × 20 i32 words (op, act, inH, inW, inC, outH, outW, outC, kh, kw, strideH, strideW, padTop,
  // padLeft, wOffset, levels, range bits, 3 reserved; bindings/nn/layers.ts); images channels-last.
  /** Parameter count n of the table (checked: shapes chain, window sizes, contiguous offsets). */
  seqParamCount(layers: number, table: Ptr): number;
  /** Bytes of scratch `work` (16-aligned) seqForward needs for `rows` rows. */
  seqWorkBytes(layers: number, table: Ptr, rows: number): number;
  /** Bytes of a sequential network descriptor. */
  seqNetworkBytes(): number;
  /** Writes and checks the descriptor: X (rows × input size f32), P (f32 parameter rows pStride
   *  apart, pStride ≥ n, a multiple of 4), out (members × rows × last layer's size f32). */
  seqNetwork(net: Ptr, layers: number, table: Ptr, rows: number, X: Ptr, P: Ptr, pStride: number, out: Ptr, work: Ptr): void;
  /** out[m] = the forward of P row m over the batch, m < members. */
  seqForward(net: Ptr, members: number): void;
}
