// cross-entropy kernel family: softmax cross-entropy of an ensemble of logits, its loss,
// gradient and the linearised ensemble system (docs/method.md §1, §2.4).
// Every array is f64 and row-major, labels are i32; a k×m matrix holds k member rows of m
// contiguous values. ΔF_i = F_i − c (c = F_0, the centre's outputs). All sums accumulate in f64;
// reductions run in the lane order of gram.ts, so both builds give the same bits.
import { checkArray, checkFits, checkLabels, checkSize } from "./checks";
import { addAt, GRAM_TILE, SCRATCH, SCRATCH_BYTES, scale, symmetrize, tileProducts } from "./gram";

// Softmax of one sample's C logits into p (C), stable (shifted by the max); returns log Σ exp.
// @ts-ignore: decorator
@inline
function softmax(C: i32, x: usize, p: usize): f64 {
  let mx = load<f64>(x);
  for (let j = 1; j < C; j++) mx = max(mx, load<f64>(x + (<usize>j << 3)));
  let s = 0.0;
  for (let j = 0; j < C; j++) {
    const e = Math.exp(load<f64>(x + (<usize>j << 3)) - mx);
    store<f64>(p + (<usize>j << 3), e);
    s += e;
  }
  const inv = 1.0 / s;
  for (let j = 0; j < C; j++) store<f64>(p + (<usize>j << 3), load<f64>(p + (<usize>j << 3)) * inv);
  return mx + Math.log(s);
}

// Softmax cross-entropy, m = B·C logits, per sample b the block H_b = (diag(p_b) − p_b p_bᵀ)/B
// and g_b = (p_b − e_{c_b})/B at c (docs/method.md §1, §2.4): A = ΔFᵀHΔF, r = −ΔFᵀg; returns the
// mean loss at c. H is applied, never formed: ΔF_aᵀH_bΔF_b = (1/B)Σ_j p_j (x_aj − s_a)(x_bj − s_b)
// with x = ΔF on sample b and s = pᵀx, so A is a p-weighted Gram of the p-centred ΔF.
// F: k×(B·C); c: B·C; labels: i32 B; A: k×k; r: k. (2k + 1)·C ≤ 32768 (scratch of one sample).
export function ceSystem(k: i32, B: i32, C: i32, F: usize, c: usize, labels: usize, A: usize, r: usize): f64 {
  checkSize(k, "ceSystem", "k");
  checkSize(B, "ceSystem", "B");
  checkSize(C, "ceSystem", "C");
  const m64 = <u64>B * <u64>C;
  checkArray(F, <u64>k * m64, 8, "ceSystem", "F");
  checkArray(c, m64, 8, "ceSystem", "c");
  checkArray(labels, <u64>B, 4, "ceSystem", "labels");
  checkArray(A, <u64>k * <u64>k, 8, "ceSystem", "A");
  checkArray(r, <u64>k, 8, "ceSystem", "r");
  // One sample's weights and two k × C tiles must fit the scratch.
  checkFits((2 * <u64>k + 1) * <u64>C, <u64>(SCRATCH_BYTES >> 3), "ceSystem", "(2k + 1)·C",
    "one sample's scratch; use fewer members or classes per call");
  checkLabels(B, C, labels, "ceSystem");
  const m = B * C;
  // Samples per tile: about GRAM_TILE columns, as many as the scratch holds, at least one.
  const G = min(B, max(1, min(GRAM_TILE / C, (SCRATCH_BYTES >> 3) / ((2 * k + 1) * C))));
  const T = G * C;
  const ldT = <usize>T << 3;
  const P = SCRATCH; // p of the tile's samples: T
  const X = SCRATCH + ldT; // p-centred ΔF: k × T
  const PX = X + <usize>k * ldT; // p∘X: k × T
  const ld = <usize>m << 3;
  const ldA = <usize>k << 3;
  const invB = 1.0 / <f64>B;
  memory.fill(A, 0, (<usize>k * k) << 3);
  memory.fill(r, 0, <usize>k << 3);
  let loss = 0.0;
  for (let b0 = 0; b0 < B; b0 += G) {
    const nb = min(G, B - b0);
    for (let t = 0; t < nb; t++) {
      const b = b0 + t;
      const cb = c + ((<usize>b * C) << 3);
      const pb = P + ((<usize>t * C) << 3);
      const label = load<i32>(labels + (<usize>b << 2));
      loss += softmax(C, cb, pb) - load<f64>(cb + (<usize>label << 3));
      for (let i = 0; i < k; i++) {
        const fb = F + <usize>i * ld + ((<usize>b * C) << 3);
        const xb = X + <usize>i * ldT + ((<usize>t * C) << 3);
        const pxb = PX + <usize>i * ldT + ((<usize>t * C) << 3);
        // s = pᵀΔF_ib; r_i −= ΔF_ibᵀ g_b with g_b = (p_b − e_label)/B.
        const s = centreSample(C, fb, cb, pb, xb, pxb);
        addAt(r + (<usize>i << 3), (load<f64>(fb + (<usize>label << 3)) - load<f64>(cb + (<usize>label << 3)) - s) * invB);
      }
    }
    tileProducts(nb * C, k, k, PX, ldT, X, ldT, true, A, ldA);
  }
  symmetrize(k, A);
  scale(k * k, invB, A);
  return loss * invB;
}

// One member on one sample (C values): d = f − c, s = pᵀd, x = d − s into xb and p∘x into pxb;
// returns s.
// @ts-ignore: decorator
@inline
function centreSample(C: i32, fb: usize, cb: usize, pb: usize, xb: usize, pxb: usize): f64 {
  let s = 0.0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let sv = f64x2.splat(0);
    for (; j + 1 < C; j += 2) {
      const o = <usize>j << 3;
      const d = f64x2.sub(v128.load(fb + o), v128.load(cb + o));
      v128.store(xb + o, d);
      sv = f64x2.add(sv, f64x2.mul(v128.load(pb + o), d));
    }
    s = f64x2.extract_lane(sv, 0) + f64x2.extract_lane(sv, 1);
  } else {
    // the SIMD build's lane order: (Σ even j + Σ odd j) + the last element of an odd C
    let se = 0.0, so = 0.0;
    for (; j + 1 < C; j += 2) {
      const o = <usize>j << 3;
      const d0 = load<f64>(fb + o) - load<f64>(cb + o);
      const d1 = load<f64>(fb + o, 8) - load<f64>(cb + o, 8);
      store<f64>(xb + o, d0);
      store<f64>(xb + o, d1, 8);
      se += load<f64>(pb + o) * d0;
      so += load<f64>(pb + o, 8) * d1;
    }
    s = se + so;
  }
  for (; j < C; j++) {
    const d = load<f64>(fb + (<usize>j << 3)) - load<f64>(cb + (<usize>j << 3));
    store<f64>(xb + (<usize>j << 3), d);
    s += load<f64>(pb + (<usize>j << 3)) * d;
  }
  j = 0;
  if (ASC_FEATURE_SIMD) {
    const sv = f64x2.splat(s);
    for (; j + 1 < C; j += 2) {
      const o = <usize>j << 3;
      const x = f64x2.sub(v128.load(xb + o), sv);
      v128.store(xb + o, x);
      v128.store(pxb + o, f64x2.mul(v128.load(pb + o), x));
    }
  }
  for (; j < C; j++) {
    const x = load<f64>(xb + (<usize>j << 3)) - s;
    store<f64>(xb + (<usize>j << 3), x);
    store<f64>(pxb + (<usize>j << 3), load<f64>(pb + (<usize>j << 3)) * x);
  }
  return s;
}

// out_i = mean over samples of −log softmax(F_ib)[label_b]; correct_i = #samples whose first
// argmax is the label (skipped when correct = 0). F: k×(B·C); labels: i32 B; out: k; correct: i32 k.
export function ceLoss(k: i32, B: i32, C: i32, F: usize, labels: usize, out: usize, correct: usize): void {
  checkSize(k, "ceLoss", "k");
  checkSize(B, "ceLoss", "B");
  checkSize(C, "ceLoss", "C");
  checkArray(F, <u64>k * <u64>B * <u64>C, 8, "ceLoss", "F");
  checkArray(labels, <u64>B, 4, "ceLoss", "labels");
  checkArray(out, <u64>k, 8, "ceLoss", "out");
  if (correct != 0) checkArray(correct, <u64>k, 4, "ceLoss", "correct");
  checkLabels(B, C, labels, "ceLoss");
  for (let i = 0; i < k; i++) {
    let loss = 0.0;
    let hits = 0;
    for (let b = 0; b < B; b++) {
      const x = F + ((<usize>i * B + b) * C << 3);
      const label = load<i32>(labels + (<usize>b << 2));
      let mx = load<f64>(x);
      let arg = 0;
      for (let j = 1; j < C; j++) {
        const v = load<f64>(x + (<usize>j << 3));
        if (v > mx) { mx = v; arg = j; }
      }
      let s = 0.0;
      for (let j = 0; j < C; j++) s += Math.exp(load<f64>(x + (<usize>j << 3)) - mx);
      loss += mx + Math.log(s) - load<f64>(x + (<usize>label << 3));
      if (arg == label) hits++;
    }
    store<f64>(out + (<usize>i << 3), loss / <f64>B);
    if (correct != 0) store<i32>(correct + (<usize>i << 2), hits);
  }
}

// G_i = ∇ of the mean cross-entropy at F_i: per sample (softmax(F_ib) − e_label)/B.
// F, G: k×(B·C); labels: i32 B.
export function ceGrad(k: i32, B: i32, C: i32, F: usize, labels: usize, G: usize): void {
  checkSize(k, "ceGrad", "k");
  checkSize(B, "ceGrad", "B");
  checkSize(C, "ceGrad", "C");
  const total = <u64>k * <u64>B * <u64>C;
  checkArray(F, total, 8, "ceGrad", "F");
  checkArray(labels, <u64>B, 4, "ceGrad", "labels");
  checkArray(G, total, 8, "ceGrad", "G");
  checkLabels(B, C, labels, "ceGrad");
  const invB = 1.0 / <f64>B;
  for (let i = 0; i < k; i++) {
    for (let b = 0; b < B; b++) {
      const off = (<usize>i * B + b) * C << 3;
      const g = G + off;
      softmax(C, F + off, g);
      for (let j = 0; j < C; j++) store<f64>(g + (<usize>j << 3), load<f64>(g + (<usize>j << 3)) * invB);
      const gl = g + (<usize>load<i32>(labels + (<usize>b << 2)) << 3);
      store<f64>(gl, load<f64>(gl) - invB);
    }
  }
}
