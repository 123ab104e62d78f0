// Direct-convolution tiles of conv.ts: the GEMM engine's 4 × 8 register tile (gemm-tile.ts) with
// op(A) read straight from the input instead of from im2col rows. Row r of the tile is an output
// position whose window starts at a_r; the window is kh runs of `run` = kw·inC contiguous taps,
// lineB bytes apart (k = ky·run + j is at a_r + ky·lineB + 4j), so a window is never copied.
// B is the filter bank packed by packB without a dot tail.
// Every sum runs over k in order from 0, then + bias, then the activation: the same operations in
// the same order as gemmBlock's tiles and epilogue, so the bits equal the im2col path's, and the
// scalar build (2 × 4 blocks) gives the SIMD build's bits.
import { act4, actScalar } from "./activations";

// Epilogue of a partial tile held in the scratch (row stride 8 floats): rows × cols valid.
function finishTile(tile: usize, rows: i32, cols: i32, cp: usize, ldcB: usize, bias: usize, act: i32): void {
  for (let r = 0; r < rows; r++) {
    const t = tile + (<usize>r << 5);
    const c = cp + <usize>r * ldcB;
    for (let j = 0; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(c + o, actScalar(load<f32>(t + o) + load<f32>(bias + o), act));
    }
  }
}

// c = act(acc + bias) for 4 adjacent columns.
// @ts-ignore: decorator
@inline
function finish4(acc: v128, cp: usize, bias: usize, act: i32): void {
  v128.store(cp, act4(f32x4.add(acc, v128.load(bias)), act));
}

// SIMD 4 × 8 tile: rows a0..a3 (window origins), B panel rows of 8 floats.
export function directTile8(kh: i32, run: i32, lineB: usize, a0: usize, a1: usize, a2: usize, a3: usize, bp: usize,
  cp: usize, ldcB: usize, rows: i32, cols: i32, bias: usize, act: i32, tile: usize): void {
  let c00 = f32x4.splat(0.0);
  let c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  let pb = bp;
  for (let ky = 0; ky < kh; ky++) {
    const line = <usize>ky * lineB;
    let p0 = a0 + line, p1 = a1 + line, p2 = a2 + line, p3 = a3 + line;
    const end = pb + (<usize>run << 5);
    do {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      let a = v128.load32_splat(p0);
      c00 = f32x4.add(c00, f32x4.mul(a, b0));
      c01 = f32x4.add(c01, f32x4.mul(a, b1));
      a = v128.load32_splat(p1);
      c10 = f32x4.add(c10, f32x4.mul(a, b0));
      c11 = f32x4.add(c11, f32x4.mul(a, b1));
      a = v128.load32_splat(p2);
      c20 = f32x4.add(c20, f32x4.mul(a, b0));
      c21 = f32x4.add(c21, f32x4.mul(a, b1));
      a = v128.load32_splat(p3);
      c30 = f32x4.add(c30, f32x4.mul(a, b0));
      c31 = f32x4.add(c31, f32x4.mul(a, b1));
      p0 += 4;
      p1 += 4;
      p2 += 4;
      p3 += 4;
      pb += 32;
    } while (pb < end);
  }
  if (rows == 4 && cols == 8) {
    const b1 = bias + 16;
    finish4(c00, cp, bias, act);
    finish4(c01, cp + 16, b1, act);
    finish4(c10, cp + ldcB, bias, act);
    finish4(c11, cp + ldcB + 16, b1, act);
    finish4(c20, cp + 2 * ldcB, bias, act);
    finish4(c21, cp + 2 * ldcB + 16, b1, act);
    finish4(c30, cp + 3 * ldcB, bias, act);
    finish4(c31, cp + 3 * ldcB + 16, b1, act);
  } else {
    v128.store(tile, c00);
    v128.store(tile, c01, 16);
    v128.store(tile, c10, 32);
    v128.store(tile, c11, 48);
    v128.store(tile, c20, 64);
    v128.store(tile, c21, 80);
    v128.store(tile, c30, 96);
    v128.store(tile, c31, 112);
    finishTile(tile, rows, cols, cp, ldcB, bias, act);
  }
}

// SIMD 4 × 4 tile for a narrow last panel (B panel rows of 4 floats).
export function directTile4(kh: i32, run: i32, lineB: usize, a0: usize, a1: usize, a2: usize, a3: usize, bp: usize,
  cp: usize, ldcB: usize, rows: i32, cols: i32, bias: usize, act: i32, tile: usize): void {
  let c0 = f32x4.splat(0.0);
  let c1 = c0, c2 = c0, c3 = c0;
  let pb = bp;
  for (let ky = 0; ky < kh; ky++) {
    const line = <usize>ky * lineB;
    let p0 = a0 + line, p1 = a1 + line, p2 = a2 + line, p3 = a3 + line;
    const end = pb + (<usize>run << 4);
    do {
      const b = v128.load(pb);
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(p0), b));
      c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(p1), b));
      c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(p2), b));
      c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(p3), b));
      p0 += 4;
      p1 += 4;
      p2 += 4;
      p3 += 4;
      pb += 16;
    } while (pb < end);
  }
  if (rows == 4 && cols == 4) {
    finish4(c0, cp, bias, act);
    finish4(c1, cp + ldcB, bias, act);
    finish4(c2, cp + 2 * ldcB, bias, act);
    finish4(c3, cp + 3 * ldcB, bias, act);
  } else {
    v128.store(tile, c0);
    v128.store(tile, c1, 32);
    v128.store(tile, c2, 64);
    v128.store(tile, c3, 96);
    finishTile(tile, rows, cols, cp, ldcB, bias, act);
  }
}

// Scalar build: rows a0..a3 × the w (4 or 8) columns of one panel, as 2 × 4 blocks.
export function directTileScalar(kh: i32, run: i32, lineB: usize, a0: usize, a1: usize, a2: usize, a3: usize, bp: usize,
  w: i32, cp: usize, ldcB: usize, rows: i32, cols: i32, bias: usize, act: i32, tile: usize): void {
  const bRow = <usize>w << 2;
  for (let h = 0; h < w; h += 4) {
    block2x4(kh, run, lineB, a0, a1, bp + (<usize>h << 2), bRow, tile + (<usize>h << 2));
    block2x4(kh, run, lineB, a2, a3, bp + (<usize>h << 2), bRow, tile + 64 + (<usize>h << 2));
  }
  finishTile(tile, rows, cols, cp, ldcB, bias, act);
}

// 2 rows × 4 columns summed over k into the tile scratch (row stride 32 bytes).
// @ts-ignore: decorator
@inline
function block2x4(kh: i32, run: i32, lineB: usize, a0: usize, a1: usize, bp: usize, bRow: usize, t: usize): void {
  let c00: f32 = 0, c01: f32 = 0, c02: f32 = 0, c03: f32 = 0;
  let c10: f32 = 0, c11: f32 = 0, c12: f32 = 0, c13: f32 = 0;
  let pb = bp;
  for (let ky = 0; ky < kh; ky++) {
    let p0 = a0 + <usize>ky * lineB, p1 = a1 + <usize>ky * lineB;
    for (let j = 0; j < run; j++) {
      const b0 = load<f32>(pb);
      const b1 = load<f32>(pb, 4);
      const b2 = load<f32>(pb, 8);
      const b3 = load<f32>(pb, 12);
      const x = load<f32>(p0);
      const y = load<f32>(p1);
      c00 += x * b0;
      c01 += x * b1;
      c02 += x * b2;
      c03 += x * b3;
      c10 += y * b0;
      c11 += y * b1;
      c12 += y * b2;
      c13 += y * b3;
      p0 += 4;
      p1 += 4;
      pb += bRow;
    }
  }
  store<f32>(t, c00);
  store<f32>(t, c01, 4);
  store<f32>(t, c02, 8);
  store<f32>(t, c03, 12);
  store<f32>(t, c10, 32);
  store<f32>(t, c11, 36);
  store<f32>(t, c12, 40);
  store<f32>(t, c13, 44);
}
