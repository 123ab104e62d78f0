// Convolution and pooling passes of the sequential network (seq.ts) over a block of samples, f32,
// channels-last: a sample's activation is h × w × c, its index (y·w + x)·c + ci.
// conv2d is a GEMM: output position p of the block (row p of the result, exactly the channels-last
// layout) times the filter bank, a K = kh·kw·c_in × c_out matrix whose row index (ky·kw + kx)·c_in
// + ci is the patch order, with bias and activation in the epilogue. The tiles of conv-tile.ts read
// the patches in place from the input (zero-padded first into a scratch copy when windows leave
// it): no patch is ever copied. Measured on the MNIST CNN (8c5, 16c5), this made the convolutions
// 1.2× (16c5) to 2.3× (8c5) faster than im2col + the GEMM engine, whose patch copies cost as much
// as the GEMM for one-channel inputs (runs of kw floats).
// Pooling ('valid') is a pass over the activation, vectorized over channels when c ≥ 4.
import { directTile4, directTile8, directTileScalar } from "./conv-tile";

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

// Floats per sample of the zero-padded input a direct convolution reads when some window leaves
// the input ((outH − 1)·strideH + kh rows × (outW − 1)·strideW + kw columns × inC), else 0.
export function paddedSize(g: Geom): i32 {
  const hp = (g.outH - 1) * g.sh + g.kh, wp = (g.outW - 1) * g.sw + g.kw;
  if (g.padTop == 0 && g.padLeft == 0 && hp <= g.inH && wp <= g.inW) return 0;
  return hp * wp * g.inC;
}

// Geometry of the padded input (the direct path's view of a padded layer).
const PADDED = memory.data(48, 16);

// Copies the block's inputs into dst zero-padded to paddedSize(g) per sample; returns its geometry.
function padInput(g: Geom, samples: i32, inp: usize, dst: usize): Geom {
  const C = g.inC;
  const hp = (g.outH - 1) * g.sh + g.kh, wp = (g.outW - 1) * g.sw + g.kw;
  const left = min(g.padLeft, wp);
  const copied = max(0, min(g.inW, wp - left));
  const lineB = <usize>(g.inW * C) << 2;
  let d = dst;
  for (let s = 0; s < samples; s++) {
    const base = inp + <usize>s * <usize>g.inH * lineB;
    for (let y = 0; y < hp; y++) {
      const iy = y - g.padTop;
      if (iy < 0 || iy >= g.inH) {
        zeroFloats(wp * C, d);
      } else {
        zeroFloats(left * C, d);
        copyFloats(copied * C, base + <usize>iy * lineB, d + (<usize>(left * C) << 2));
        zeroFloats((wp - left - copied) * C, d + (<usize>((left + copied) * C) << 2));
      }
      d += <usize>(wp * C) << 2;
    }
  }
  const p = changetype<Geom>(PADDED);
  memory.copy(PADDED, changetype<usize>(g), 48);
  p.inH = hp;
  p.inW = wp;
  p.padTop = 0;
  p.padLeft = 0;
  return p;
}

// Where the direct path is: output column and row, and the byte offsets of the current window,
// of its output row's first window and of its sample.
let atX = 0, atY = 0;
let atPtr: usize = 0, atRow: usize = 0, atSample: usize = 0;

// Byte offset of the current window's origin; then moves to the next output position (stepX,
// stepY, sampleB: bytes to the next window in a row, the next row of windows, the next sample).
// @ts-ignore: decorator
@inline
function nextOrigin(g: Geom, stepX: usize, stepY: usize, sampleB: usize): usize {
  const o = atPtr;
  if (++atX == g.outW) {
    atX = 0;
    if (++atY == g.outH) {
      atY = 0;
      atSample += sampleB;
      atRow = atSample;
    } else {
      atRow += stepY;
    }
    atPtr = atRow;
  } else {
    atPtr += stepX;
  }
  return o;
}

// convBlock for windows all inside the input: the tiles read them in place.
function convDirect(g: Geom, samples: i32, act: i32, inp: usize, packed: usize, bias: usize, dst: usize,
  tile: usize): void {
  const C = g.inC, K = g.kh * g.kw * C, N = g.outC;
  const kh = g.kh, run = g.kw * C;
  const lineB = <usize>(g.inW * C) << 2;
  const total = samples * g.outH * g.outW;
  const ldcB = <usize>N << 2;
  const stepX = <usize>(g.sw * C) << 2, stepY = <usize>g.sh * lineB, sampleB = <usize>g.inH * lineB;
  atX = atY = 0;
  atPtr = atRow = atSample = 0;
  for (let p0 = 0; p0 < total; p0 += 4) {
    const rows = min(4, total - p0);
    // window origins of the tile's rows; rows past the end re-read the last one (never stored)
    const a0 = inp + nextOrigin(g, stepX, stepY, sampleB);
    const a1 = rows > 1 ? inp + nextOrigin(g, stepX, stepY, sampleB) : a0;
    const a2 = rows > 2 ? inp + nextOrigin(g, stepX, stepY, sampleB) : a1;
    const a3 = rows > 3 ? inp + nextOrigin(g, stepX, stepY, sampleB) : a2;
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

// dst(samples·outH·outW × outC) = act(conv(inp)·W + b) for a block of samples, after zero-padding
// into `padded` where windows leave the input.
//   packed: the filter bank (K × outC) packed by packB as one K block, without a dot tail
//   padded: samples × paddedSize(g) floats; tile: 128 bytes of scratch, 16-aligned
export function convBlock(g: Geom, samples: i32, act: i32, inp: usize, packed: usize, bias: usize,
  dst: usize, padded: usize, tile: usize): void {
  if (paddedSize(g) == 0) convDirect(g, samples, act, inp, packed, bias, dst, tile);
  else convDirect(padInput(g, samples, inp, padded), samples, act, padded, packed, bias, dst, tile);
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
