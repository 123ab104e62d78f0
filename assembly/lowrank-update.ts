// lowrank kernel family, ensemble space: the NLB update θ += coef·Σ_i z_i e_i and the Tikhonov
// terms G = [e_a·e_b], p = [e_a·θ] for rank-r directions e_i = s_i·D_{q_i} (lowrank-core.ts), in
// f64, from the factors alone: per layer the update is coef·U diag(z) Vᵀ/√r, and
//   ⟨U_a V_aᵀ, U_b V_bᵀ⟩_F = Σ_{c,c'} (U_a[:,c]·U_b[:,c'])·(V_a[:,c]·V_b[:,c'])   (rank 1: (u_a·u_b)(v_a·v_b))
//   ⟨U V ᵀ, W⟩_F          = Σ_c U[:,c]ᵀ W V[:,c]
// Both kernels take whole antithetic pairs (member0, k even), like nlbUpdate and drawGram, and give
// the same bits in the SIMD and scalar builds (lane-wise f64 or (even + odd) sums, see dot()).
import { fillNormals, streamKey, TILE, XI } from "./rng-core";
import {
  checkCoords, checkDisjoint, checkFinite, checkMemberRange, checkRegion, checkShapes, checkSize, checkWholePairs,
  checkWorkBytes,
} from "./checks";
import { streamOf } from "./perturb";
import { blockCoordCount, blockParamCount, fanInAt, fanOutAt, fillRange, up16, widestIn, widestOut } from "./lowrank-core";

// Streams per pass of lowRankUpdate (its work holds their factors of one layer).
const CHUNK: i32 = 16;

// Coefficient of stream u of a call: coef·z_u, or with pairs coef·(z_{2u} − z_{2u+1}).
// @ts-ignore: decorator
@inline
function streamCoef(coef: f64, z: usize, u: i32, anti: bool): f64 {
  if (!anti) return coef * load<f64>(z + (<usize>u << 3));
  return coef * (load<f64>(z + (<usize>u << 4)) - load<f64>(z + (<usize>u << 4), 8));
}

// Bytes of `work` lowRankUpdate needs: CHUNK streams' U_l (max fanIn_l × CHUNK·r) and scaled V_l
// (CHUNK·r × max fanOut_l), f64.
export function lowRankUpdateWorkBytes(layers: i32, shapes: usize, rank: i32): i32 {
  const K = "lowRankUpdateWorkBytes";
  checkSize(rank, K, "rank");
  checkShapes(layers, shapes, K);
  checkCoords(blockCoordCount(layers, shapes, rank), K);
  const bytes = updateBytes(layers, shapes, rank);
  checkWorkBytes(bytes, K, "use a smaller rank or narrower layers");
  return <i32>bytes;
}

function updateBytes(layers: i32, shapes: usize, rank: i32): u64 {
  const cols = <u64>CHUNK * <u64>rank;
  return up16(<u64>widestIn(layers, shapes) * cols << 3) + (cols * <u64>widestOut(layers, shapes) << 3);
}

// θ += coef·Σ_i z_i·e_i over members i = member0 … member0 + k − 1 (e_i = s_i·D_{q_i}, E never
// formed; docs/method.md §2.5). One term per stream u (c_u = coef·z_u, or coef·(z_{2u} − z_{2u+1})
// for a pair), w_u = c_u/√r:
//   W_l[a][b] ← W_l[a][b] + U_l[a][c]·(w_u·V_l[b][c])   for u ascending, then c ascending
//   b_l[b]    ← b_l[b] + c_u·β_l[b]                      for u ascending
// every term added to θ one at a time, so consecutive calls over a split member range (at even
// members with pairs) give the same bits. shapes: i32[2·layers] (lowrank-core.ts); z: f64 k; theta: f64 n;
// work: lowRankUpdateWorkBytes(layers, shapes, rank) bytes, 16-aligned.
export function lowRankUpdate(k: i32, layers: i32, shapes: usize, rank: i32, coef: f64, seed: u32, iter: u32,
  member0: u32, antithetic: i32, z: usize, theta: usize, work: usize): void {
  const K = "lowRankUpdate";
  checkSize(k, K, "k");
  checkSize(rank, K, "rank");
  checkMemberRange(k, member0, K);
  checkFinite(coef, K, "coef");
  checkShapes(layers, shapes, K);
  checkCoords(blockCoordCount(layers, shapes, rank), K);
  const anti = antithetic != 0;
  checkWholePairs(k, member0, anti, K);
  const zBytes = <u64>k << 3;
  const tBytes = blockParamCount(layers, shapes) << 3;
  const wBytes = updateBytes(layers, shapes, rank);
  checkRegion(z, zBytes, 8, K, "z");
  checkRegion(theta, tBytes, 8, K, "theta");
  checkRegion(work, wBytes, 16, K, "work (lowRankUpdateWorkBytes bytes, 16-aligned)");
  checkDisjoint(theta, tBytes, z, zBytes, K, "theta", "z");
  checkDisjoint(theta, tBytes, work, wBytes, K, "theta", "work");
  checkDisjoint(work, wBytes, z, zBytes, K, "work", "z");
  const S = anti ? k >> 1 : k;
  const first = streamOf(member0, anti);
  const UB = work; // f64 fanIn_l × cs·r: U_l of the chunk's streams, stream g in columns g·r …
  const VC = work + <usize>up16(<u64>widestIn(layers, shapes) * <u64>(CHUNK * rank) << 3); // f64 cs·r × fanOut_l
  const invSqrtR = 1.0 / Math.sqrt(<f64>rank);
  for (let u0 = 0; u0 < S; u0 += CHUNK) {
    const cs = min(CHUNK, S - u0);
    const cols = cs * rank;
    let o: u64 = 0; // o_l
    let tw = theta; // θ's W_l
    for (let l = 1; l <= layers; l++) {
      const din = fanInAt(shapes, l);
      const dout = fanOutAt(shapes, l);
      for (let g = 0; g < cs; g++) {
        const key = streamKey(seed, iter, first + <u32>(u0 + g));
        const w = streamCoef(coef, z, u0 + g, anti) * invSqrtR;
        // U_l → UB columns g·r … (row stride cols)
        for (let j0 = 0; j0 < din * rank; j0 += TILE) {
          const len = min(TILE, din * rank - j0);
          fillNormals(key, o + <u64>j0, len, XI);
          let a = j0 / rank, c = j0 - a * rank;
          for (let j = 0; j < len; j++) {
            store<f64>(UB + ((<usize>a * <usize>cols + <usize>(g * rank + c)) << 3), load<f64>(XI + (<usize>j << 3)));
            if (++c == rank) { c = 0; a++; }
          }
        }
        // w·V_l → VC rows g·r + c (each fanOut_l long)
        const vo = o + <u64>din * <u64>rank;
        for (let j0 = 0; j0 < dout * rank; j0 += TILE) {
          const len = min(TILE, dout * rank - j0);
          fillNormals(key, vo + <u64>j0, len, XI);
          let b = j0 / rank, c = j0 - b * rank;
          for (let j = 0; j < len; j++) {
            store<f64>(VC + ((<usize>(g * rank + c) * <usize>dout + <usize>b) << 3), w * load<f64>(XI + (<usize>j << 3)));
            if (++c == rank) { c = 0; b++; }
          }
        }
      }
      // W_l[a][·] += Σ_j UB[a][j]·VC[j][·], j ascending (lane-wise f64x2: same bits as scalar)
      for (let a = 0; a < din; a++) {
        const row = tw + (<usize>a * <usize>dout << 3);
        const ua = UB + (<usize>a * <usize>cols << 3);
        for (let j = 0; j < cols; j++) addScaled(dout, load<f64>(ua + (<usize>j << 3)), VC + (<usize>j * <usize>dout << 3), row);
      }
      // b_l += c_u·β_l, u ascending
      const tb = tw + (<usize>din * <usize>dout << 3);
      const bo = o + <u64>(din + dout) * <u64>rank;
      for (let g = 0; g < cs; g++) {
        const key = streamKey(seed, iter, first + <u32>(u0 + g));
        const cu = streamCoef(coef, z, u0 + g, anti);
        for (let j0 = 0; j0 < dout; j0 += TILE) {
          const len = min(TILE, dout - j0);
          fillNormals(key, bo + <u64>j0, len, XI);
          addScaled(len, cu, XI, tb + (<usize>j0 << 3));
        }
      }
      o = bo + <u64>dout;
      tw = tb + (<usize>dout << 3);
    }
  }
}

// y[0, len) += c·x[0, len), f64 (lane-wise in the SIMD build: same bits as the scalar loop).
function addScaled(len: i32, c: f64, x: usize, y: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const vc = f64x2.splat(c);
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      v128.store(y + o, f64x2.add(v128.load(y + o), f64x2.mul(vc, v128.load(x + o))));
    }
  }
  for (; j < len; j++) {
    const o = <usize>j << 3;
    store<f64>(y + o, load<f64>(y + o) + c * load<f64>(x + o));
  }
}

// Σ_j x_j·y_j as (Σ over even j) + (Σ over odd j), each ascending: the two f64x2 lanes, which the
// scalar build reproduces, so both builds give the same bits.
function dot(len: i32, x: usize, y: usize): f64 {
  let e: f64 = 0, o: f64 = 0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let v = f64x2.splat(0);
    for (; j + 1 < len; j += 2) {
      const p = <usize>j << 3;
      v = f64x2.add(v, f64x2.mul(v128.load(x + p), v128.load(y + p)));
    }
    e = f64x2.extract_lane(v, 0);
    o = f64x2.extract_lane(v, 1);
  } else {
    for (; j + 1 < len; j += 2) {
      const p = <usize>j << 3;
      e += load<f64>(x + p) * load<f64>(y + p);
      o += load<f64>(x + p, 8) * load<f64>(y + p, 8);
    }
  }
  if (j < len) e += load<f64>(x + (<usize>j << 3)) * load<f64>(y + (<usize>j << 3));
  return e + o;
}

// Bytes of `work` lowRankGram needs: every stream's m coordinates, f64 (S = k, or k/2 with pairs).
export function lowRankGramWorkBytes(k: i32, layers: i32, shapes: usize, rank: i32, antithetic: i32): i32 {
  const K = "lowRankGramWorkBytes";
  checkSize(k, K, "k");
  checkSize(rank, K, "rank");
  checkShapes(layers, shapes, K);
  const m = blockCoordCount(layers, shapes, rank);
  checkCoords(m, K);
  const S = antithetic != 0 ? (k + 1) >> 1 : k;
  const bytes = <u64>S * m << 3;
  checkWorkBytes(bytes, K, "split the members");
  return <i32>bytes;
}

// The Tikhonov terms for rank-r directions (the contract of drawGram): with e_i = s_i·D_{q_i},
//   G(k×k) = [e_a·e_b],  p(k) = [e_a·θ],  f64,
// from the factors: per stream pair (a ≤ b) and per layer l ascending, Q_ab accumulates
//   (Σ_{c,c'} (U_a[:,c]·U_b[:,c'])·(V_a[:,c]·V_b[:,c'])) / r, then β_a·β_b,
// and t_a accumulates (Σ_c U_a[:,c]ᵀ W_l V_a[:,c]) / √r, then β_a·b_l (W_l, b_l from θ); every dot
// product as in dot(). G_ab = s_a·s_b·Q_{q_a q_b} (exactly symmetric), p_a = s_a·t_{q_a}.
// theta: f64 n; G: f64 k×k; p: f64 k; work: lowRankGramWorkBytes bytes, 16-aligned (no overlaps).
export function lowRankGram(k: i32, layers: i32, shapes: usize, rank: i32, seed: u32, iter: u32, member0: u32,
  antithetic: i32, theta: usize, G: usize, p: usize, work: usize): void {
  const K = "lowRankGram";
  checkSize(k, K, "k");
  checkSize(rank, K, "rank");
  checkMemberRange(k, member0, K);
  checkShapes(layers, shapes, K);
  const m = blockCoordCount(layers, shapes, rank);
  checkCoords(m, K);
  const anti = antithetic != 0;
  checkWholePairs(k, member0, anti, K);
  const S = anti ? k >> 1 : k;
  const tBytes = blockParamCount(layers, shapes) << 3;
  const gBytes = <u64>k * <u64>k << 3;
  const pBytes = <u64>k << 3;
  const wBytes = <u64>S * m << 3;
  checkRegion(theta, tBytes, 8, K, "theta");
  checkRegion(G, gBytes, 8, K, "G");
  checkRegion(p, pBytes, 8, K, "p");
  checkRegion(work, wBytes, 16, K, "work (lowRankGramWorkBytes bytes, 16-aligned)");
  checkDisjoint(G, gBytes, theta, tBytes, K, "G", "theta");
  checkDisjoint(p, pBytes, theta, tBytes, K, "p", "theta");
  checkDisjoint(G, gBytes, p, pBytes, K, "G", "p");
  checkDisjoint(work, wBytes, theta, tBytes, K, "work", "theta");
  checkDisjoint(work, wBytes, G, gBytes, K, "work", "G");
  checkDisjoint(work, wBytes, p, pBytes, K, "work", "p");
  const first = streamOf(member0, anti);
  const rowB = <usize>m << 3;
  // Row u: stream u's coordinates with each U_l, V_l stored transposed (r × d: column c contiguous).
  for (let u = 0; u < S; u++) {
    const key = streamKey(seed, iter, first + <u32>u);
    const row = work + <usize>u * rowB;
    let o: u64 = 0;
    for (let l = 1; l <= layers; l++) {
      const din = fanInAt(shapes, l);
      const dout = fanOutAt(shapes, l);
      transposed(key, o, din, rank, row + (<usize>o << 3));
      transposed(key, o + <u64>din * <u64>rank, dout, rank, row + (<usize>(o + <u64>din * <u64>rank) << 3));
      const bo = o + <u64>(din + dout) * <u64>rank;
      fillRange(key, bo, dout, row + (<usize>bo << 3));
      o = bo + <u64>dout;
    }
  }
  const ldo = <usize>k << 3;
  const invR = 1.0 / <f64>rank;
  const sqrtR = Math.sqrt(<f64>rank);
  for (let a = 0; a < S; a++) {
    const ra = work + <usize>a * rowB;
    for (let b = a; b < S; b++) {
      const rb = work + <usize>b * rowB;
      let q: f64 = 0;
      let o: usize = 0;
      for (let l = 1; l <= layers; l++) {
        const din = fanInAt(shapes, l);
        const dout = fanOutAt(shapes, l);
        const vo = o + (<usize>din * <usize>rank << 3);
        let w: f64 = 0;
        for (let c = 0; c < rank; c++) {
          for (let c2 = 0; c2 < rank; c2++) {
            w += dot(din, ra + o + (<usize>(c * din) << 3), rb + o + (<usize>(c2 * din) << 3)) *
              dot(dout, ra + vo + (<usize>(c * dout) << 3), rb + vo + (<usize>(c2 * dout) << 3));
          }
        }
        q += w * invR;
        const bo = vo + (<usize>dout * <usize>rank << 3);
        q += dot(dout, ra + bo, rb + bo);
        o = bo + (<usize>dout << 3);
      }
      store<f64>(G + <usize>a * ldo + (<usize>b << 3), q);
      store<f64>(G + <usize>b * ldo + (<usize>a << 3), q);
    }
    // t_a = Σ_l (Σ_c U[:,c]ᵀ W_l V[:,c])/√r + β·b_l
    let t: f64 = 0;
    let o: usize = 0;
    let tw = theta;
    for (let l = 1; l <= layers; l++) {
      const din = fanInAt(shapes, l);
      const dout = fanOutAt(shapes, l);
      const vo = o + (<usize>din * <usize>rank << 3);
      let s: f64 = 0;
      for (let c = 0; c < rank; c++) {
        const uc = ra + o + (<usize>(c * din) << 3);
        const vc = ra + vo + (<usize>(c * dout) << 3);
        for (let i = 0; i < din; i++) s += load<f64>(uc + (<usize>i << 3)) * dot(dout, tw + (<usize>(i * dout) << 3), vc);
      }
      t += s / sqrtR;
      const bo = vo + (<usize>dout * <usize>rank << 3);
      const tb = tw + (<usize>din * <usize>dout << 3);
      t += dot(dout, ra + bo, tb);
      o = bo + (<usize>dout << 3);
      tw = tb + (<usize>dout << 3);
    }
    store<f64>(p + (<usize>a << 3), t);
  }
  if (!anti) return;
  // G_ab = s_a s_b Q_{⌊a/2⌋⌊b/2⌋}, p_a = s_a t_{⌊a/2⌋}, in place, descending (sources first).
  for (let a = k - 1; a >= 0; a--) {
    for (let b = k - 1; b >= 0; b--) {
      const q = load<f64>(G + <usize>(a >> 1) * ldo + (<usize>(b >> 1) << 3));
      store<f64>(G + <usize>a * ldo + (<usize>b << 3), ((a ^ b) & 1) != 0 ? -q : q);
    }
    const t = load<f64>(p + (<usize>(a >> 1) << 3));
    store<f64>(p + (<usize>a << 3), (a & 1) != 0 ? -t : t);
  }
}

// dst (r × d, f64) = the transpose of the d × r factor at stream positions index0 …
function transposed(key: u64, index0: u64, d: i32, rank: i32, dst: usize): void {
  const total = d * rank;
  for (let j0 = 0; j0 < total; j0 += TILE) {
    const len = min(TILE, total - j0);
    fillNormals(key, index0 + <u64>j0, len, XI);
    let a = j0 / rank, c = j0 - a * rank;
    for (let j = 0; j < len; j++) {
      store<f64>(dst + ((<usize>c * <usize>d + <usize>a) << 3), load<f64>(XI + (<usize>j << 3)));
      if (++c == rank) { c = 0; a++; }
    }
  }
}
