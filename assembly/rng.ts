// rng kernel family: kernels that consume the counter-based N(0,1) generator of rng-core.ts, so the
// perturbation matrix E = σΞ is regenerated instead of stored (docs/method.md §2.2). ξ(seed, draw,
// member, index) is a pure function of four u32 (defined in rng-core.ts); both builds give the same bits.
//
// Layouts: row-major, a k×n matrix holds k member rows of n contiguous values. Member i of a call
// is the global member member0 + r for row r; with antithetic pairs it uses stream q_i = ⌊i/2⌋
// with sign s_i = (−1)^i, else q_i = i, s_i = 1.
import {
  checkArray, checkAtMost, checkFinite, checkIndexRange, checkMemberRange, checkSize, checkStride, checkWholePairs,
} from "./checks";
import { addAt, gramBlock } from "./gram";
import { perturbRows, signOf, streamOf } from "./perturb";
import { fillNormals, GROUP, streamKey, TILE, XI } from "./rng-core";

// Gram scratch of drawGram: S stream rows × a column tile, S·tile ≤ GRAM_CELLS f64.
const GRAM_CELLS: i32 = 16384;
const GRAM_TILE: i32 = 256; // = GRAM_ROW / 8: with S ≤ GRAM_CELLS / GRAM_TILE the rows are GRAM_ROW bytes apart
const GRAM_ROW: usize = 2048;
const XG: usize = memory.data(GRAM_CELLS << 3, 16);

// out[j] = ξ(seed, draw, member, offset + j), j < n. out: f64 n.
export function randn(n: i32, seed: u32, draw: u32, member: u32, offset: u32, out: usize): void {
  checkSize(n, "randn", "n");
  checkIndexRange(offset, n, "randn");
  checkArray(out, <u64>n, 8, "randn", "out");
  const key = streamKey(seed, draw, member);
  for (let j0 = 0; j0 < n; j0 += TILE) {
    fillNormals(key, <u64>offset + <u64>j0, min(TILE, n - j0), out + (<usize>j0 << 3));
  }
}

// Row r (member i = member0 + r) = θ + σ·s_i·ξ_{q_i}, evaluated as θ_j + (s_i·σ)·ξ_j in f64 and
// stored as T (f64, or f32 rounded once). theta: f64 n; out: T rows of outStride elements, the
// first n of each written (must not overlap theta).
// @ts-ignore: decorator
@inline
function perturbMembers<T>(kernel: string, k: i32, n: i32, sigma: f64, seed: u32, draw: u32, member0: u32,
  antithetic: i32, outStride: i32, theta: usize, out: usize): void {
  checkSize(k, kernel, "k");
  checkSize(n, kernel, "n");
  checkMemberRange(k, member0, kernel);
  checkStride(outStride, <u64>n, kernel, "outStride", "n");
  checkFinite(sigma, kernel, "sigma");
  checkArray(theta, <u64>n, 8, kernel, "theta");
  checkArray(out, <u64>(k - 1) * <u64>outStride + <u64>n, sizeof<T>(), kernel, "out");
  const anti = antithetic != 0;
  const rowBytes = <usize>outStride * sizeof<T>();
  for (let r = 0; r < k; r++) {
    const i = member0 + <u32>r;
    const row = out + <usize>r * rowBytes;
    // An antithetic pair wholly inside this call shares one pass of the generator.
    const pair = anti && (i & 1) == 0 && r + 1 < k;
    perturbRows<T>(n, signOf(i, anti) * sigma, streamKey(seed, draw, streamOf(i, anti)), theta, row, pair ? row + rowBytes : 0);
    if (pair) r++;
  }
}

// perturbMembers in f64 with contiguous rows. theta: f64 n; out: f64 k×n.
export function perturb64(k: i32, n: i32, sigma: f64, seed: u32, draw: u32, member0: u32,
  antithetic: i32, theta: usize, out: usize): void {
  perturbMembers<f64>("perturb64", k, n, sigma, seed, draw, member0, antithetic, n, theta, out);
}

// perturbMembers in f32 with rows of stride outStride floats (network parameters).
// theta: f64 n; out: f32 k×outStride.
export function perturb32(k: i32, n: i32, sigma: f64, seed: u32, draw: u32, member0: u32,
  antithetic: i32, outStride: i32, theta: usize, out: usize): void {
  perturbMembers<f32>("perturb32", k, n, sigma, seed, draw, member0, antithetic, outStride, theta, out);
}

// θ[0, len) += c·x[0, len): one member's (or pair's) term. theta, x: f64 len.
function addScaled(len: i32, c: f64, x: usize, theta: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const vc = f64x2.splat(c);
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      v128.store(theta + o, f64x2.add(v128.load(theta + o), f64x2.mul(vc, v128.load(x + o))));
    }
  }
  for (; j < len; j++) {
    const o = <usize>j << 3;
    store<f64>(theta + o, load<f64>(theta + o) + c * load<f64>(x + o));
  }
}

// θ[0, len) += c0·x0, then += c1·x1, c2·x2, c3·x3 (four sequential adds per element, as four
// addScaled calls would do, with θ read and written once). x_u = XI + u·TILE; theta: f64 len.
function addScaled4(len: i32, c0: f64, c1: f64, c2: f64, c3: f64, theta: usize): void {
  const x1 = XI + (<usize>TILE << 3);
  const x2 = XI + (<usize>TILE << 4);
  const x3 = x2 + (<usize>TILE << 3);
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const v0 = f64x2.splat(c0);
    const v1 = f64x2.splat(c1);
    const v2 = f64x2.splat(c2);
    const v3 = f64x2.splat(c3);
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      let t = f64x2.add(v128.load(theta + o), f64x2.mul(v0, v128.load(XI + o)));
      t = f64x2.add(t, f64x2.mul(v1, v128.load(x1 + o)));
      t = f64x2.add(t, f64x2.mul(v2, v128.load(x2 + o)));
      v128.store(theta + o, f64x2.add(t, f64x2.mul(v3, v128.load(x3 + o))));
    }
  }
  for (; j < len; j++) {
    const o = <usize>j << 3;
    let t = load<f64>(theta + o) + c0 * load<f64>(XI + o);
    t += c1 * load<f64>(x1 + o);
    t += c2 * load<f64>(x2 + o);
    store<f64>(theta + o, t + c3 * load<f64>(x3 + o));
  }
}

// Coefficient of stream u of a call: coef·z_u, or with antithetic pairs coef·(z_{2u} − z_{2u+1})
// (the pair's members share ξ with signs +, −).
// @ts-ignore: decorator
@inline
function streamCoef(coef: f64, z: usize, u: i32, anti: bool): f64 {
  if (!anti) return coef * load<f64>(z + (<usize>u << 3));
  return coef * (load<f64>(z + (<usize>u << 4)) - load<f64>(z + (<usize>u << 4), 8));
}

// θ += coef·Σ_i z_i·s_i·ξ_{q_i} (docs/method.md §2.5, E z without E). Summation order, which fixes
// the bits: one term per stream u (a member, or an antithetic pair (2u, 2u+1) sharing ξ_u, whose
// coefficient is coef·(z_{2u} − z_{2u+1})), and for each j the terms are added one by one in
// ascending stream order, θ_j ← θ_j + c_u·ξ_uj. Splitting the member range into consecutive calls
// (at even members with pairs, which the kernel enforces) therefore gives the same bits, in both
// builds. z: f64 k; theta: f64 n (must not overlap z).
export function nlbUpdate(k: i32, n: i32, coef: f64, seed: u32, draw: u32, member0: u32,
  antithetic: i32, z: usize, theta: usize): void {
  checkSize(k, "nlbUpdate", "k");
  checkSize(n, "nlbUpdate", "n");
  checkMemberRange(k, member0, "nlbUpdate");
  checkFinite(coef, "nlbUpdate", "coef");
  const anti = antithetic != 0;
  checkWholePairs(k, member0, anti, "nlbUpdate");
  checkArray(z, <u64>k, 8, "nlbUpdate", "z");
  checkArray(theta, <u64>n, 8, "nlbUpdate", "theta");
  const streams = anti ? k >> 1 : k;
  const first = anti ? member0 >> 1 : member0;
  const full = streams - streams % GROUP;
  // θ tiles of TILE values stay in L1 across all streams; GROUP streams are generated per pass.
  for (let j0 = 0; j0 < n; j0 += TILE) {
    const len = min(TILE, n - j0);
    const t = theta + (<usize>j0 << 3);
    let u = 0;
    for (; u < full; u += GROUP) {
      for (let g = 0; g < GROUP; g++) {
        fillNormals(streamKey(seed, draw, first + <u32>(u + g)), <u64>j0, len, XI + (<usize>(g * TILE) << 3));
      }
      addScaled4(len, streamCoef(coef, z, u, anti), streamCoef(coef, z, u + 1, anti), streamCoef(coef, z, u + 2, anti),
        streamCoef(coef, z, u + 3, anti), t);
    }
    for (; u < streams; u++) {
      fillNormals(streamKey(seed, draw, first + <u32>u), <u64>j0, len, XI);
      addScaled(len, streamCoef(coef, z, u, anti), XI, t);
    }
  }
}

// gramBlock for a full 4×2 block of XG rows GRAM_ROW bytes apart (x_u = a + u·GRAM_ROW,
// y_v = b + v·GRAM_ROW): the row offsets are load immediates, so the loop does two address
// adds instead of six. Same sums in the same order as gramBlock (which the scalar build runs).
// @ts-ignore: decorator
@inline
function gramBlockRows(len: i32, a: usize, b: usize, out: usize, ldo: usize): void {
  if (!ASC_FEATURE_SIMD) {
    gramBlock(len, a, a + GRAM_ROW, a + 2 * GRAM_ROW, a + 3 * GRAM_ROW, b, b + GRAM_ROW, out, ldo, 4, 2);
    return;
  }
  let v00 = f64x2.splat(0), v01 = f64x2.splat(0), v10 = f64x2.splat(0), v11 = f64x2.splat(0);
  let v20 = f64x2.splat(0), v21 = f64x2.splat(0), v30 = f64x2.splat(0), v31 = f64x2.splat(0);
  let x = a;
  let y = b;
  const end = a + (<usize>(len & ~1) << 3);
  for (; x < end; x += 16, y += 16) {
    const y0 = v128.load(y), y1 = v128.load(y, 2048);
    const x0 = v128.load(x);
    v00 = f64x2.add(v00, f64x2.mul(x0, y0)); v01 = f64x2.add(v01, f64x2.mul(x0, y1));
    const x1 = v128.load(x, 2048);
    v10 = f64x2.add(v10, f64x2.mul(x1, y0)); v11 = f64x2.add(v11, f64x2.mul(x1, y1));
    const x2 = v128.load(x, 4096);
    v20 = f64x2.add(v20, f64x2.mul(x2, y0)); v21 = f64x2.add(v21, f64x2.mul(x2, y1));
    const x3 = v128.load(x, 6144);
    v30 = f64x2.add(v30, f64x2.mul(x3, y0)); v31 = f64x2.add(v31, f64x2.mul(x3, y1));
  }
  let e00 = f64x2.extract_lane(v00, 0), e01 = f64x2.extract_lane(v01, 0);
  let e10 = f64x2.extract_lane(v10, 0), e11 = f64x2.extract_lane(v11, 0);
  let e20 = f64x2.extract_lane(v20, 0), e21 = f64x2.extract_lane(v21, 0);
  let e30 = f64x2.extract_lane(v30, 0), e31 = f64x2.extract_lane(v31, 0);
  if ((len & 1) != 0) {
    // The last, even position of an odd-length tile.
    const y0 = load<f64>(y), y1 = load<f64>(y, 2048);
    const x0 = load<f64>(x), x1 = load<f64>(x, 2048), x2 = load<f64>(x, 4096), x3 = load<f64>(x, 6144);
    e00 += x0 * y0; e01 += x0 * y1; e10 += x1 * y0; e11 += x1 * y1;
    e20 += x2 * y0; e21 += x2 * y1; e30 += x3 * y0; e31 += x3 * y1;
  }
  addAt(out, e00 + f64x2.extract_lane(v00, 1)); addAt(out + 8, e01 + f64x2.extract_lane(v01, 1));
  addAt(out + ldo, e10 + f64x2.extract_lane(v10, 1)); addAt(out + ldo + 8, e11 + f64x2.extract_lane(v11, 1));
  addAt(out + 2 * ldo, e20 + f64x2.extract_lane(v20, 1)); addAt(out + 2 * ldo + 8, e21 + f64x2.extract_lane(v21, 1));
  addAt(out + 3 * ldo, e30 + f64x2.extract_lane(v30, 1)); addAt(out + 3 * ldo + 8, e31 + f64x2.extract_lane(v31, 1));
}

// The Tikhonov terms of the NLB system in one pass of the generator (docs/method.md §2.8, docs/defaults.md
// "Tikhonov λ, exactly"): with e_i = s_i·ξ_{q_i} the signed perturbation direction of member
// i = member0 + r (E = σ[e_0 … e_{k−1}]),
//   G(k×k) = [e_a·e_b] = ΞᵀΞ with signs,   p(k) = [e_a·θ] = Ξᵀθ with signs,
// accumulated in f64 (products of f32-valued ξ are exact). Only the S distinct streams are drawn
// (S = k, or k/2 with antithetic pairs, which must then be whole: member0, k even) and only the
// upper triangle of their Gram Q(S×S) is computed, in column tiles of T = min(256, 16384/S) and
// 4×2 register blocks; G_ab = s_a·s_b·Q_{q_a q_b} and p_a = s_a·(ξ_{q_a}·θ) are expanded at the
// end, so G is exactly symmetric. Sums run tile by tile in ascending columns, each tile as (even
// columns) + (odd columns): the same bits in both builds. theta: f64 n; G: f64 k×k; p: f64 k
// (G, p and theta must not overlap). S ≤ 8192.
export function drawGram(k: i32, n: i32, seed: u32, draw: u32, member0: u32, antithetic: i32,
  theta: usize, G: usize, p: usize): void {
  checkSize(k, "drawGram", "k");
  checkSize(n, "drawGram", "n");
  checkMemberRange(k, member0, "drawGram");
  const anti = antithetic != 0;
  checkWholePairs(k, member0, anti, "drawGram");
  const S = anti ? k >> 1 : k;
  // S ≤ GRAM_CELLS/2 streams: k ≤ 8192, or 16384 with antithetic pairs (k even, checked above)
  checkAtMost(k, anti ? GRAM_CELLS : GRAM_CELLS >> 1, "drawGram", "k",
    anti ? "with antithetic pairs; split the ensemble" : "16384 with antithetic pairs; split the ensemble");
  checkArray(theta, <u64>n, 8, "drawGram", "theta");
  checkArray(G, <u64>k * <u64>k, 8, "drawGram", "G");
  checkArray(p, <u64>k, 8, "drawGram", "p");
  memory.fill(G, 0, <usize>k * <usize>k << 3);
  memory.fill(p, 0, <usize>k << 3);
  const first = anti ? member0 >> 1 : member0;
  // Tile width: even, so every tile starts at an even column (whole hashes, fixed lane parity).
  const T = min(GRAM_TILE, (GRAM_CELLS / S) & ~1);
  // With T = GRAM_TILE, rows are GRAM_ROW bytes apart and full blocks take gramBlockRows.
  const rows = T == GRAM_TILE;
  const ldx = <usize>T << 3;
  const ldo = <usize>k << 3;
  const last = S - 1;
  for (let j0 = 0; j0 < n; j0 += T) {
    const len = min(T, n - j0);
    // XG(S × T): the tile of every stream.
    for (let u = 0; u < S; u++) fillNormals(streamKey(seed, draw, first + <u32>u), <u64>j0, len, XG + <usize>u * ldx);
    const th = theta + (<usize>j0 << 3);
    for (let a = 0; a < S; a += 4) {
      // Rows past the end alias the last row: computed, never written (na < 4).
      const p0 = XG + <usize>a * ldx;
      const p1 = XG + <usize>min(a + 1, last) * ldx;
      const p2 = XG + <usize>min(a + 2, last) * ldx;
      const p3 = XG + <usize>min(a + 3, last) * ldx;
      const na = min(4, S - a);
      // Q_ab, b ≥ a (Q in the leading S×S block of G, row stride k)
      for (let b = a; b < S; b += 2) {
        const q0 = XG + <usize>b * ldx;
        const q1 = XG + <usize>min(b + 1, last) * ldx;
        const out = G + <usize>a * ldo + (<usize>b << 3);
        if (rows && na == 4 && b + 1 < S) gramBlockRows(len, p0, q0, out, ldo);
        else gramBlock(len, p0, p1, p2, p3, q0, q1, out, ldo, na, min(2, S - b));
      }
      // ξ_a·θ into p_a
      gramBlock(len, p0, p1, p2, p3, th, th, p + (<usize>a << 3), 8, na, 1);
    }
  }
  // Q's lower triangle from its upper one.
  for (let a = 1; a < S; a++) {
    for (let b = 0; b < a; b++) store<f64>(G + <usize>a * ldo + (<usize>b << 3), load<f64>(G + <usize>b * ldo + (<usize>a << 3)));
  }
  if (!anti) return;
  // G_ab = s_a s_b Q_{⌊a/2⌋⌊b/2⌋}, p_a = s_a t_{⌊a/2⌋}, in place: in descending order every
  // source (at a smaller or equal index) is read before it is overwritten.
  for (let a = k - 1; a >= 0; a--) {
    for (let b = k - 1; b >= 0; b--) {
      const q = load<f64>(G + <usize>(a >> 1) * ldo + (<usize>(b >> 1) << 3));
      store<f64>(G + <usize>a * ldo + (<usize>b << 3), ((a ^ b) & 1) != 0 ? -q : q);
    }
    const t = load<f64>(p + (<usize>(a >> 1) << 3));
    store<f64>(p + (<usize>a << 3), (a & 1) != 0 ? -t : t);
  }
}
