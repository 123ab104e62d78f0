// Convolution and pooling passes of the sequential network (seq.ts) over a block of samples, f32,
// channels-last: a sample's activation is h × w × c, its index (y·w + x)·c + ci.
// conv2d is a GEMM: the patches of a chunk of output positions are copied (im2col) into rows of
// K = kh·kw·c_in floats, row index (ky·kw + kx)·c_in + ci (the filter bank's row order), and the
// GEMM engine multiplies them by the packed filter bank with bias and activation in its epilogue;
// output position p of the block is row p of the result, which is exactly the channels-last layout.
// Pooling ('valid') is a pass over the activation, vectorized over channels when c ≥ 4.
import { ACT_IDENTITY } from "./checks";
import { kBlock, packedWidth } from "./gemm-pack";
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

// Copies n floats from src to dst (4 at a time in the SIMD build).
// @ts-ignore: decorator
@inline
function copyFloats(n: i32, src: usize, dst: usize): void {
  const end = <usize>n << 2;
  let o: usize = 0;
  if (ASC_FEATURE_SIMD) {
    for (; o + 16 <= end; o += 16) v128.store(dst + o, v128.load(src + o));
  }
  for (; o < end; o += 4) store<f32>(dst + o, load<f32>(src + o));
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

// Output positions per im2col chunk: col holds colFloats floats, a chunk count × K of them.
export function convChunk(K: i32, positions: i32, colFloats: i32): i32 {
  const c = max(4, (colFloats / K) & ~3);
  return min(c, positions);
}

// dst(samples·outH·outW × outC) = act(im2col(inp)·W + b) for a block of samples.
//   packed: the filter bank (K × outC) packed by packB, K block after K block
//   col: convChunk(K, …, colFloats) × K floats; tile: the engine's TILE_BYTES + COPY_BYTES
export function convBlock(g: Geom, samples: i32, act: i32, inp: usize, packed: usize, bias: usize,
  dst: usize, col: usize, colFloats: i32, tile: usize): void {
  const K = g.kh * g.kw * g.inC;
  const N = g.outC;
  const kc = kBlock(K);
  const pw = <usize>packedWidth(N);
  const total = samples * g.outH * g.outW;
  const chunk = convChunk(K, total, colFloats);
  const rowB = <usize>K << 2;
  for (let p0 = 0; p0 < total; p0 += chunk) {
    const count = min(chunk, total - p0);
    im2col(g, p0, count, inp, col);
    const c = dst + (<usize>p0 * <usize>N << 2);
    for (let k0 = 0; k0 < K; k0 += kc) {
      const kb = min(kc, K - k0);
      const last = k0 + kb == K;
      gemmBlock(count, N, kb, col + (<usize>k0 << 2), rowB, 4, packed + <usize>k0 * pw * 4, c, N, 1.0, 1.0,
        k0 > 0, last ? bias : 0, last ? act : ACT_IDENTITY, tile);
    }
  }
}

// Max / average ('valid') pooling of a block of samples: dst(samples × outH × outW × C), each
// output the max or the mean of its kh × kw window of inp, taken in the order ky, kx.
export function poolBlock(g: Geom, samples: i32, isMax: bool, inp: usize, dst: usize): void {
  const C = g.inC, kh = g.kh, kw = g.kw;
  const lineB = <usize>(g.inW * C) << 2;
  const pixB = <usize>C << 2;
  const sampleB = <usize>g.inH * lineB;
  const count = <f32>(kh * kw);
  // channel vectors: c0 = 0, 4, …, and a last one at C − 4 (overlapping lanes get the same values)
  const vec = ASC_FEATURE_SIMD && C >= 4;
  let out = dst;
  for (let s = 0; s < samples; s++) {
    const base = inp + <usize>s * sampleB;
    for (let oy = 0; oy < g.outH; oy++) {
      for (let ox = 0; ox < g.outW; ox++) {
        const win = base + <usize>(oy * g.sh) * lineB + <usize>(ox * g.sw) * pixB;
        if (vec) {
          for (let c0 = 0; c0 < C; c0 += 4) {
            const o = <usize>min(c0, C - 4) << 2;
            let v = v128.load(win + o);
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = ky == 0 ? 1 : 0; kx < kw; kx++) {
                const x = v128.load(win + <usize>ky * lineB + <usize>kx * pixB + o);
                v = isMax ? f32x4.max(v, x) : f32x4.add(v, x);
              }
            }
            if (!isMax) v = f32x4.div(v, f32x4.splat(count));
            v128.store(out + o, v);
          }
        } else {
          for (let c = 0; c < C; c++) {
            const o = <usize>c << 2;
            let v = load<f32>(win + o);
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = ky == 0 ? 1 : 0; kx < kw; kx++) {
                const x = load<f32>(win + <usize>ky * lineB + <usize>kx * pixB + o);
                v = isMax ? max<f32>(v, x) : v + x;
              }
            }
            store<f32>(out + o, isMax ? v : v / count);
          }
        }
        out += pixB;
      }
    }
  }
}
