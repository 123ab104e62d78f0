// Blocking and packing of the gemm engine (gemm-tile.ts): K-block length, packed-B layout, the
// work size, and the copies of op(A) rows into the tile scratch. Not part of the module's ABI.

// K block: a 4×KC slice of op(A) (8 KiB) stays in L1 and a KC×N slab of packed B in L2.
const KC_MAX: i32 = 512;
// Scratch for one 4×8 tile (edge tiles and the scalar build go through it before the epilogue).
export const TILE_BYTES: usize = 128;
// Copied A rows sit this many bytes apart (KC_MAX floats), a compile-time distance the tiles
// address with immediate load offsets; the copy area (4 rows) also holds a kc × 4 strip.
export const ROW_GAP: usize = <usize>KC_MAX << 2;
export const COPY_BYTES: usize = 4 * ROW_GAP;

// Length of a K block: K split into equal blocks of at most KC_MAX (no short tail block).
export function kBlock(K: i32): i32 {
  const blocks = (K + KC_MAX - 1) / KC_MAX;
  return (K + blocks - 1) / blocks;
}

// Columns of packed B: full 8-wide panels, then one 4- or 8-wide panel for the remainder.
export function packedWidth(N: i32): i32 {
  const r = N & 7;
  return N - r + (r == 0 ? 0 : r <= 4 ? 4 : 8);
}

// Whether the last 1–2 columns use the k-vectorized dot tile (SIMD build, op(A) rows contiguous
// in k, i.e. aCol = 4 bytes): padding them to a 4-wide panel would waste half its flops.
// @ts-ignore: decorator
@inline
export function dotTail(N: i32, aCol: usize): bool {
  return ASC_FEATURE_SIMD && aCol == 4 && (N & 7) != 0 && (N & 7) <= 2;
}

// Bytes of `work` for a product with N columns and inner size K: one packed K block of B, the
// tile, and the copy area for 4 rows of op(A).
export function engineWorkBytes(N: i32, K: i32): u64 {
  const kc = <u64>kBlock(K);
  return kc * <u64>packedWidth(N) * 4 + <u64>TILE_BYTES + <u64>COPY_BYTES;
}

// Bytes spanned by a rows × cols f32 matrix with leading dimension ld (the last row is cols long).
// @ts-ignore: decorator
@inline
export function span(rows: i32, cols: i32, ld: i32): u64 {
  return (<u64>(rows - 1) * <u64>ld + <u64>cols) << 2;
}

// Packs op(B)[k0, k0 + kc) × [0, N) into dst: panel p (columns 8p …) holds kc rows of w floats
// (w = 8, or 4 for a narrow last panel), zero-padded past N. op(B)[k][j] = B[k·ldb + j] when
// transB is false, B[j·ldb + k] when true. With dot (see dotTail) the narrow last panel is
// stored column by column instead: column c's kc values contiguous at c·kc.
export function packB(transB: bool, k0: i32, kc: i32, N: i32, B: usize, ldb: i32, dst: usize, dot: bool): void {
  const ldbB = <usize>ldb << 2;
  let out = dst;
  for (let j0 = 0; j0 < N; ) {
    const rem = N - j0;
    const w = rem >= 8 ? 8 : rem <= 4 ? 4 : 8;
    const valid = rem < w ? rem : w;
    const rowB = <usize>w << 2;
    if (dot && w == 4) {
      const sk: usize = transB ? 4 : ldbB;
      const sj: usize = transB ? ldbB : 4;
      for (let c = 0; c < valid; c++) {
        const src = B + <usize>k0 * sk + <usize>(j0 + c) * sj;
        const o = out + <usize>c * <usize>kc * 4;
        for (let kk = 0; kk < kc; kk++) store<f32>(o + (<usize>kk << 2), load<f32>(src + <usize>kk * sk));
      }
    } else if (!transB) {
      let src = B + <usize>k0 * ldbB + (<usize>j0 << 2);
      for (let kk = 0; kk < kc; kk++) {
        const o = out + <usize>kk * rowB;
        if (ASC_FEATURE_SIMD && valid == 8) {
          v128.store(o, v128.load(src));
          v128.store(o, v128.load(src, 16), 16);
        } else {
          for (let c = 0; c < valid; c++) store<f32>(o + (<usize>c << 2), load<f32>(src + (<usize>c << 2)));
          for (let c = valid; c < w; c++) store<f32>(o + (<usize>c << 2), 0.0);
        }
        src += ldbB;
      }
    } else {
      for (let c = 0; c < w; c++) {
        const o = out + (<usize>c << 2);
        if (c < valid) {
          const src = B + <usize>(j0 + c) * ldbB + (<usize>k0 << 2);
          for (let kk = 0; kk < kc; kk++) store<f32>(o + <usize>kk * rowB, load<f32>(src + (<usize>kk << 2)));
        } else {
          for (let kk = 0; kk < kc; kk++) store<f32>(o + <usize>kk * rowB, 0.0);
        }
      }
    }
    out += <usize>kc * rowB;
    j0 += w;
  }
}

// Copies op(A) rows a0..a3 (k stride aCol bytes) for kc k's into strip as kc × 4 floats.
// adjacent: the 4 rows are adjacent floats (transposed A, no row clamped): one v128 per k.
export function packStrip(kc: i32, a0: usize, a1: usize, a2: usize, a3: usize, aCol: usize, adjacent: bool, strip: usize): void {
  let o = strip;
  const end = strip + (<usize>kc << 4);
  let k: usize = 0;
  if (ASC_FEATURE_SIMD && adjacent) {
    while (o < end) {
      v128.store(o, v128.load(a0 + k));
      k += aCol;
      o += 16;
    }
    return;
  }
  while (o < end) {
    store<f32>(o, load<f32>(a0 + k));
    store<f32>(o, load<f32>(a1 + k), 4);
    store<f32>(o, load<f32>(a2 + k), 8);
    store<f32>(o, load<f32>(a3 + k), 12);
    k += aCol;
    o += 16;
  }
}

// Copies rows a0..a3 of op(A) (contiguous in k) for kc k's to dst, dst + ROW_GAP, … (SIMD build).
export function copyRows(kc: i32, a0: usize, a1: usize, a2: usize, a3: usize, dst: usize): void {
  const n4 = <usize>(kc & ~3) << 2;
  const n = <usize>kc << 2;
  for (let o: usize = 0; o < n4; o += 16) {
    v128.store(dst + o, v128.load(a0 + o));
    v128.store(dst + o, v128.load(a1 + o), ROW_GAP);
    v128.store(dst + o, v128.load(a2 + o), 2 * ROW_GAP);
    v128.store(dst + o, v128.load(a3 + o), 3 * ROW_GAP);
  }
  for (let o = n4; o < n; o += 4) {
    store<f32>(dst + o, load<f32>(a0 + o));
    store<f32>(dst + o, load<f32>(a1 + o), ROW_GAP);
    store<f32>(dst + o, load<f32>(a2 + o), 2 * ROW_GAP);
    store<f32>(dst + o, load<f32>(a3 + o), 3 * ROW_GAP);
  }
}
