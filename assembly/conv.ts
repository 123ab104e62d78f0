// Convolution and pooling passes of the sequential network (seq.ts) over a block of samples, f32,
// channels-last: a sample's activation is h × w × c, its index (y·w + x)·c + ci.
// conv2d is a GEMM: the patches of a chunk of output positions are copied (im2col) into rows of
// K = kh·kw·c_in floats, row index (ky·kw + kx)·c_in + ci (the filter bank's row order), and the
// GEMM engine multiplies them by the packed filter bank with bias and activation in its epilogue;
// output position p of the block is row p of the result, which is exactly the channels-last layout.
// Pooling ('valid') is a pass over the activation, vectorized over channels when c ≥ 4.
import { ACT_IDENTITY } from "./checks";
import { directTile4, directTile8, directTileScalar } from "./conv-tile";
import { dotTail, kBlock, packedWidth } from "./gemm-pack";
import { gemmBlock } from "./gemm-tile";

// The geometry of a conv / pool layer (read from its table entry by seq.ts).
// @ts-ignore: decorator
@unmanaged
export class Geom {
  inH: i32;
  inW: i32;
  inC: i32;
  outH: i32;
  outW: i32;
  outC: i32;
  kh: i32;
  kw: i32;
  sh: i32;
  sw: i32;
  padTop: i32;
  padLeft: i32;
}

// Copies n floats from src to dst. SIMD build, n ≥ 4: 4 at a time, the last 4 ending at n (a
// tail overlaps floats already copied, with the same values), so a short run costs ⌈n/4⌉ moves.
// @ts-ignore: decorator
@inline
function copyFloats(n: i32, src: usize, dst: usize): void {
  const end = <usize>n << 2;
  if (ASC_FEATURE_SIMD && n >= 4) {
    const last = end - 16;
    for (let o: usize = 0; o < last; o += 16) v128.store(dst + o, v128.load(src + o));
    v128.store(dst + last, v128.load(src + last));
    return;
  }
  for (let o: usize = 0; o < end; o += 4) store<f32>(dst + o, load<f32>(src + o));
}

// Zeroes n floats at dst.
// @ts-ignore: decorator
@inline
function zeroFloats(n: i32, dst: usize): void {
  const end = <usize>n << 2;
  for (let o: usize = 0; o < end; o += 4) store<f32>(dst + o, 0.0);
}

// im2col of output positions p0 … p0 + count − 1 of the block (p = (s·outH + oy)·outW + ox) into
// col (count × K floats, K = kh·kw·inC); taps outside the input (padding) are 0.
//   inp: the block's input, samples × inH × inW × inC
function im2col(g: Geom, p0: i32, count: i32, inp: usize, col: usize): void {
  const inH = g.inH, inW = g.inW, C = g.inC, kh = g.kh, kw = g.kw;
  const run = kw * C;
  const rowB = <usize>(kh * run) << 2;
  const sampleB = <usize>inH * <usize>inW * <usize>C << 2;
  const lineB = <usize>(inW * C) << 2;
  const positions = g.outH * g.outW;
  let s = p0 / positions;
  let r = p0 - s * positions;
  let oy = r / g.outW;
  let ox = r - oy * g.outW;
  let dst = col;
  for (let i = 0; i < count; i++) {
    const base = inp + <usize>s * sampleB;
    const iy0 = oy * g.sh - g.padTop;
    const ix0 = ox * g.sw - g.padLeft;
    const inside = ix0 >= 0 && ix0 + kw <= inW;
    for (let ky = 0; ky < kh; ky++) {
      const iy = iy0 + ky;
      const d = dst + (<usize>(ky * run) << 2);
      if (iy < 0 || iy >= inH) {
        zeroFloats(run, d);
      } else if (inside) {
        copyFloats(run, base + <usize>iy * lineB + (<usize>(ix0 * C) << 2), d);
      } else {
        for (let kx = 0; kx < kw; kx++) {
          const ix = ix0 + kx;
          const dk = d + (<usize>(kx * C) << 2);
          if (ix < 0 || ix >= inW) zeroFloats(C, dk);
          else copyFloats(C, base + <usize>iy * lineB + (<usize>(ix * C) << 2), dk);
        }
      }
    }
    dst += rowB;
    if (++ox == g.outW) {
      ox = 0;
      if (++oy == g.outH) {
        oy = 0;
        s++;
      }
    }
  }
}

// Whether the patches are gathered transposed (im2colT): short runs (kw·inC < 16 floats, e.g. a
// one-channel input) make row-wise copies cost more per float than the GEMM, whereas a column
// of the transposed patches is a run of output positions (contiguous for inC = 1, strideW = 1).
export function transposedPatches(kw: i32, inC: i32): bool {
  return kw * inC < 16;
}

// im2col transposed: col[k·ld + i] = patch element k of output position p0 + i, i < count.
function im2colT(g: Geom, p0: i32, count: i32, inp: usize, col: usize, ld: i32): void {
  const inH = g.inH, inW = g.inW, C = g.inC, kh = g.kh, kw = g.kw, sw = g.sw;
  const sampleB = <usize>inH * <usize>inW * <usize>C << 2;
  const lineB = <usize>(inW * C) << 2;
  const stepB = <usize>(sw * C) << 2;
  const ldB = <usize>ld << 2;
  const positions = g.outH * g.outW;
  let s = p0 / positions;
  let r = p0 - s * positions;
  let oy = r / g.outW;
  let ox = r - oy * g.outW;
  // one segment = the positions of one output row (s, oy) inside the chunk
  for (let i = 0; i < count; ) {
    const len = min(g.outW - ox, count - i);
    const base = inp + <usize>s * sampleB;
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * g.sh - g.padTop + ky;
      for (let kx = 0; kx < kw; kx++) {
        const ix0 = ox * sw - g.padLeft + kx;
        const inside = iy >= 0 && iy < inH && ix0 >= 0 && ix0 + (len - 1) * sw < inW;
        for (let ci = 0; ci < C; ci++) {
          const d = col + <usize>((ky * kw + kx) * C + ci) * ldB + (<usize>i << 2);
          if (inside) {
            const src = base + <usize>iy * lineB + (<usize>(ix0 * C + ci) << 2);
            if (stepB == 4) copyFloats(len, src, d);
            else for (let j = 0; j < len; j++) store<f32>(d + (<usize>j << 2), load<f32>(src + <usize>j * stepB));
          } else {
            for (let j = 0; j < len; j++) {
              const ix = ix0 + j * sw;
              const ok = iy >= 0 && iy < inH && ix >= 0 && ix < inW;
              store<f32>(d + (<usize>j << 2), ok ? load<f32>(base + <usize>iy * lineB + (<usize>(ix * C + ci) << 2)) : 0.0);
            }
          }
        }
      }
    }
    i += len;
    ox = 0;
    if (++oy == g.outH) {
      oy = 0;
      s++;
    }
  }
}

// Whether the layer runs as a direct convolution (conv-tile.ts): no padding, every window inside
// the input, and one K block (the tiles sum all K taps at once).
export function directWindows(g: Geom): bool {
  const K = g.kh * g.kw * g.inC;
  return g.padTop == 0 && g.padLeft == 0 && (g.outH - 1) * g.sh + g.kh <= g.inH &&
    (g.outW - 1) * g.sw + g.kw <= g.inW && kBlock(K) == K;
}

// The output position the direct path is at (sample, row, column).
let atS = 0, atY = 0, atX = 0;

// Byte offset of the window origin of the current output position; then moves to the next one.
// @ts-ignore: decorator
@inline
function nextOrigin(g: Geom): usize {
  const o = (<usize>atS * <usize>g.inH * <usize>g.inW + <usize>(atY * g.sh) * <usize>g.inW + <usize>(atX * g.sw)) *
    <usize>g.inC << 2;
  if (++atX == g.outW) {
    atX = 0;
    if (++atY == g.outH) {
      atY = 0;
      atS++;
    }
  }
  return o;
}

// convBlock without im2col (directWindows(g)): the tiles read the windows in place.
function convDirect(g: Geom, samples: i32, act: i32, inp: usize, packed: usize, bias: usize, dst: usize,
  tile: usize): void {
  const C = g.inC, K = g.kh * g.kw * C, N = g.outC;
  const kh = g.kh, run = g.kw * C;
  const lineB = <usize>(g.inW * C) << 2;
  const total = samples * g.outH * g.outW;
  const ldcB = <usize>N << 2;
  atS = atY = atX = 0;
  for (let p0 = 0; p0 < total; p0 += 4) {
    const rows = min(4, total - p0);
    // window origins of the tile's rows; rows past the end re-read the last one (never stored)
    const a0 = inp + nextOrigin(g);
    const a1 = rows > 1 ? inp + nextOrigin(g) : a0;
    const a2 = rows > 2 ? inp + nextOrigin(g) : a1;
    const a3 = rows > 3 ? inp + nextOrigin(g) : a2;
    const cRow = dst + <usize>p0 * ldcB;
    for (let j0 = 0; j0 < N; ) {
      const rem = N - j0;
      const w = rem >= 8 ? 8 : rem <= 4 ? 4 : 8;
      const cols = min(rem, w);
      const bp = packed + <usize>j0 * <usize>K * 4;
      const cp = cRow + (<usize>j0 << 2);
      const bb = bias + (<usize>j0 << 2);
      if (ASC_FEATURE_SIMD) {
        if (w == 8) directTile8(kh, run, lineB, a0, a1, a2, a3, bp, cp, ldcB, rows, cols, bb, act, tile);
        else directTile4(kh, run, lineB, a0, a1, a2, a3, bp, cp, ldcB, rows, cols, bb, act, tile);
      } else {
        directTileScalar(kh, run, lineB, a0, a1, a2, a3, bp, w, cp, ldcB, rows, cols, bb, act, tile);
      }
      j0 += w;
    }
  }
}

// Whether the filter bank is packed with a dot tail (dotTail(outC, 4)): only on the im2col path
// with rows of patches (contiguous in k), as gemmBlock expects it there.
export function convPackDot(g: Geom): bool {
  return dotTail(g.outC, 4) && !directWindows(g) && !transposedPatches(g.kw, g.inC);
}

// Output positions per im2col chunk: col holds colFloats floats, a chunk count × K of them.
export function convChunk(K: i32, positions: i32, colFloats: i32): i32 {
  const c = max(4, (colFloats / K) & ~3);
  return min(c, positions);
}

// dst(samples·outH·outW × outC) = act(im2col(inp)·W + b) for a block of samples.
//   packed: the filter bank (K × outC) packed by packB, K block after K block, with the dot tail
//   of dotTail(outC, 4) unless transposedPatches (then none: op(A) is not contiguous in k)
//   col: convChunk(K, …, colFloats) × K floats; tile: the engine's TILE_BYTES + COPY_BYTES
export function convBlock(g: Geom, samples: i32, act: i32, inp: usize, packed: usize, bias: usize,
  dst: usize, col: usize, colFloats: i32, tile: usize): void {
  const K = g.kh * g.kw * g.inC;
  const N = g.outC;
  const kc = kBlock(K);
  const pw = <usize>packedWidth(N);
  const total = samples * g.outH * g.outW;
  const chunk = convChunk(K, total, colFloats);
  if (directWindows(g)) {
    convDirect(g, samples, act, inp, packed, bias, dst, tile);
    return;
  }
  const trans = transposedPatches(g.kw, g.inC);
  // op(A)[i][k] at col + i·aRow + k·aCol bytes
  const aRow: usize = trans ? 4 : <usize>K << 2;
  const aCol: usize = trans ? <usize>chunk << 2 : 4;
  for (let p0 = 0; p0 < total; p0 += chunk) {
    const count = min(chunk, total - p0);
    if (trans) im2colT(g, p0, count, inp, col, chunk);
    else im2col(g, p0, count, inp, col);
    const c = dst + (<usize>p0 * <usize>N << 2);
    for (let k0 = 0; k0 < K; k0 += kc) {
      const kb = min(kc, K - k0);
      const last = k0 + kb == K;
      gemmBlock(count, N, kb, col + <usize>k0 * aCol, aRow, aCol, packed + <usize>k0 * pw * 4, c, N, 1.0, 1.0,
        k0 > 0, last ? bias : 0, last ? act : ACT_IDENTITY, tile);
    }
  }
}

// Max / average ('valid') pooling of a block of samples: dst(samples × outH × outW × C), each
// output the max or the mean of its kh × kw window of inp, taken in the order ky, kx.
//   taps: kh·kw i32 of scratch (the window's byte offsets)
export function poolBlock(g: Geom, samples: i32, isMax: bool, inp: usize, dst: usize, taps: usize): void {
  const lineB = g.inW * g.inC << 2;
  let t = 0;
  for (let ky = 0; ky < g.kh; ky++) {
    for (let kx = 0; kx < g.kw; kx++) {
      store<i32>(taps + (<usize>t << 2), ky * lineB + (kx * g.inC << 2));
      t++;
    }
  }
  // one specialized loop nest each (isMax a constant inside); channel vectors where C ≥ 4
  if (ASC_FEATURE_SIMD && g.inC >= 4) {
    if (isMax) poolVec(g, samples, true, inp, dst, taps);
    else poolVec(g, samples, false, inp, dst, taps);
  } else {
    if (isMax) poolScalar(g, samples, true, inp, dst, taps);
    else poolScalar(g, samples, false, inp, dst, taps);
  }
}

// Vectors c0 = 0, 4, …, and a last one at C − 4 (overlapping lanes get the same values).
// @ts-ignore: decorator
@inline
function poolVec(g: Geom, samples: i32, isMax: bool, inp: usize, dst: usize, taps: usize): void {
  const C = g.inC;
  const lineB = <usize>(g.inW * C) << 2;
  const pixB = <usize>C << 2;
  const sampleB = <usize>g.inH * lineB;
  const count = f32x4.splat(<f32>(g.kh * g.kw));
  // tap 0 is the window origin (offset 0): the others are at taps + 4 … tapEnd
  const tapEnd = taps + (<usize>(g.kh * g.kw) << 2);
  let out = dst;
  for (let s = 0; s < samples; s++) {
    const base = inp + <usize>s * sampleB;
    for (let oy = 0; oy < g.outH; oy++) {
      for (let ox = 0; ox < g.outW; ox++) {
        const win = base + <usize>(oy * g.sh) * lineB + <usize>(ox * g.sw) * pixB;
        for (let c0 = 0; c0 < C; c0 += 4) {
          const o = <usize>min(c0, C - 4) << 2;
          let v = v128.load(win + o);
          for (let pt = taps + 4; pt < tapEnd; pt += 4) {
            const x = v128.load(win + o + <usize>load<i32>(pt));
            v = isMax ? f32x4.max(v, x) : f32x4.add(v, x);
          }
          if (!isMax) v = f32x4.div(v, count);
          v128.store(out + o, v);
        }
        out += pixB;
      }
    }
  }
}

// poolVec one channel at a time (the same operations per lane).
// @ts-ignore: decorator
@inline
function poolScalar(g: Geom, samples: i32, isMax: bool, inp: usize, dst: usize, taps: usize): void {
  const C = g.inC;
  const lineB = <usize>(g.inW * C) << 2;
  const pixB = <usize>C << 2;
  const sampleB = <usize>g.inH * lineB;
  const count = <f32>(g.kh * g.kw);
  const tapEnd = taps + (<usize>(g.kh * g.kw) << 2);
  let out = dst;
  for (let s = 0; s < samples; s++) {
    const base = inp + <usize>s * sampleB;
    for (let oy = 0; oy < g.outH; oy++) {
      for (let ox = 0; ox < g.outW; ox++) {
        const win = base + <usize>(oy * g.sh) * lineB + <usize>(ox * g.sw) * pixB;
        for (let c = 0; c < C; c++) {
          const o = <usize>c << 2;
          let v = load<f32>(win + o);
          for (let pt = taps + 4; pt < tapEnd; pt += 4) {
            const x = load<f32>(win + o + <usize>load<i32>(pt));
            v = isMax ? max<f32>(v, x) : v + x;
          }
          store<f32>(out + o, isMax ? v : v / count);
        }
        out += pixB;
      }
    }
  }
}
