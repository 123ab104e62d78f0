// Plain-TypeScript reference of the sequential network's forward pass (the seq kernel family's
// oracle), written from the layer-table contract, not from the kernel: one sample at a time,
// straightforward loops, f64 sums over the f32 parameter row. Also builds layer tables from a
// readable description, with the contract's output sizes and 'same' padding. Any suite may use it.

/** Table words per layer, and the op codes (the kernel ABI). */
export const LAYER_WORDS = 20;
export const OPS = { dense: 0, conv2d: 1, maxPool2d: 2, avgPool2d: 3 } as const;
export const ACTS = { identity: 0, relu: 1, tanh: 2, sigmoid: 3, sign: 4, heaviside: 5, hardTanh: 6 } as const;
export type ActName = keyof typeof ACTS;

/** One layer of a table description; pools take `size` (and `strides`, default = size). */
export type SeqLayerSpec =
  | { type: 'dense'; units: number; act?: ActName; levels?: number; range?: number }
  | { type: 'conv2d'; filters: number; kernel: [number, number]; strides?: [number, number];
      padding?: 'valid' | 'same'; act?: ActName; levels?: number; range?: number }
  | { type: 'maxPool2d' | 'avgPool2d'; size: [number, number]; strides?: [number, number] };

/** The f32 bits of x as an i32 word. */
function f32Bits(x: number): number {
  return new Int32Array(Float32Array.of(x).buffer)[0];
}

/** The f32 value of an i32 word. */
function bitsF32(w: number): number {
  return new Float32Array(Int32Array.of(w).buffer)[0];
}

/** Output size and leading pad of one axis: 'valid' ⌊(in − k)/s⌋ + 1, pad 0; 'same' ⌈in/s⌉, ⌊total/2⌋. */
function axis(inS: number, k: number, s: number, padding: 'valid' | 'same'): [number, number] {
  if (padding === 'valid') return [Math.floor((inS - k) / s) + 1, 0];
  const out = Math.ceil(inS / s);
  return [out, Math.floor(Math.max((out - 1) * s + k - inS, 0) / 2)];
}

/** Layer table (layers × LAYER_WORDS i32) of a description, its parameter count and output shape. */
export function seqTable(inputShape: [number, number, number], specs: SeqLayerSpec[]):
  { table: Int32Array; params: number; outShape: [number, number, number] } {
  const table = new Int32Array(specs.length * LAYER_WORDS);
  let [h, w, c] = inputShape;
  let params = 0;
  specs.forEach((spec, l) => {
    const row = table.subarray(l * LAYER_WORDS, (l + 1) * LAYER_WORDS);
    row.set([OPS[spec.type], 0, h, w, c]);
    if (spec.type === 'dense') {
      const fanIn = h * w * c;
      row.set([1, 1, spec.units, 0, 0, 0, 0, 0, 0, params, spec.levels ?? 0, spec.levels ? f32Bits(spec.range!) : 0], 5);
      row[1] = ACTS[spec.act ?? 'identity'];
      params += fanIn * spec.units + spec.units;
      [h, w, c] = [1, 1, spec.units];
    } else if (spec.type === 'conv2d') {
      const [kh, kw] = spec.kernel;
      const [sh, sw] = spec.strides ?? [1, 1];
      const [oh, pt] = axis(h, kh, sh, spec.padding ?? 'valid');
      const [ow, pl] = axis(w, kw, sw, spec.padding ?? 'valid');
      row.set([oh, ow, spec.filters, kh, kw, sh, sw, pt, pl, params, spec.levels ?? 0,
        spec.levels ? f32Bits(spec.range!) : 0], 5);
      row[1] = ACTS[spec.act ?? 'identity'];
      params += kh * kw * c * spec.filters + spec.filters;
      [h, w, c] = [oh, ow, spec.filters];
    } else {
      const [kh, kw] = spec.size;
      const [sh, sw] = spec.strides ?? spec.size;
      const [oh] = axis(h, kh, sh, 'valid');
      const [ow] = axis(w, kw, sw, 'valid');
      row.set([oh, ow, c, kh, kw, sh, sw, 0, 0, -1, 0, 0], 5);
      [h, w] = [oh, ow];
    }
  });
  return { table, params, outShape: [h, w, c] };
}

/** The activation by its code, in f64. */
export function actRef(code: number, v: number): number {
  switch (code) {
    case 0: return v;
    case 1: return Math.max(v, 0);
    case 2: return Math.tanh(v);
    case 3: return 1 / (1 + Math.exp(-v));
    case 4: return v >= 0 ? 1 : -1;
    case 5: return v > 0 ? 1 : 0;
    case 6: return Math.min(Math.max(v, -1), 1);
  }
  throw new RangeError(`activation code ${code}`);
}

/** Q(w) of the contract, every step rounded to f32 as the kernel's f32 arithmetic does. */
export function quantizeRef(w: number, levels: number, R: number): number {
  const f = Math.fround;
  const delta = f(f(2 * R) / (levels - 1));
  const t = f(f(Math.min(Math.max(w, -R), R) + R) / delta);
  return f(f(delta * Math.floor(f(t + 0.5))) - R);
}

/**
 * Forward of the table over one parameter row p (f32 values) for `rows` samples of X (rows × inH·inW·inC,
 * channels-last). Returns out (rows × last layer's size) and, for margins of the sign / heaviside
 * layers, the smallest |pre-activation| that went into one of them (Infinity without such layers).
 */
export function seqForwardRef(table: Int32Array, p: ArrayLike<number>, X: ArrayLike<number>, rows: number):
  { out: Float64Array; minAbsPre: number } {
  const L = table.length / LAYER_WORDS;
  const word = (l: number, i: number) => table[l * LAYER_WORDS + i];
  const outLen = word(L - 1, 5) * word(L - 1, 6) * word(L - 1, 7);
  const out = new Float64Array(rows * outLen);
  let minAbsPre = Infinity;
  // each parametric layer's weights, quantized where asked
  const weights = Array.from({ length: L }, (_, l) => {
    if (word(l, 0) > 1) return new Float64Array(0);
    const fanIn = word(l, 0) === 0 ? word(l, 2) * word(l, 3) * word(l, 4) : word(l, 8) * word(l, 9) * word(l, 4);
    const W = Float64Array.from({ length: fanIn * word(l, 7) }, (_, i) => p[word(l, 14) + i]);
    const levels = word(l, 15);
    return levels ? W.map((v) => quantizeRef(v, levels, bitsF32(word(l, 16)))) : W;
  });
  for (let r = 0; r < rows; r++) {
    const inLen = word(0, 2) * word(0, 3) * word(0, 4);
    let a = Float64Array.from({ length: inLen }, (_, i) => X[r * inLen + i]);
    for (let l = 0; l < L; l++) {
      const [op, act, inH, inW, inC, outH, outW, outC, kh, kw, sh, sw, pt, pl, off] =
        Array.from(table.subarray(l * LAYER_WORDS, l * LAYER_WORDS + 15));
      const y = new Float64Array(outH * outW * outC);
      const W = weights[l];
      const bias = (j: number) => p[off + W.length + j];
      if (op === 0) {
        for (let j = 0; j < outC; j++) {
          let s = bias(j);
          for (let i = 0; i < a.length; i++) s += a[i] * W[i * outC + j];
          y[j] = s;
        }
      } else {
        for (let oy = 0; oy < outH; oy++) {
          for (let ox = 0; ox < outW; ox++) {
            for (let co = 0; co < outC; co++) {
              let s = op === 1 ? bias(co) : op === 2 ? -Infinity : 0;
              for (let ky = 0; ky < kh; ky++) {
                for (let kx = 0; kx < kw; kx++) {
                  const iy = oy * sh - pt + ky, ix = ox * sw - pl + kx;
                  if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) continue;
                  if (op === 1) {
                    for (let ci = 0; ci < inC; ci++) {
                      s += a[(iy * inW + ix) * inC + ci] * W[((ky * kw + kx) * inC + ci) * outC + co];
                    }
                  } else if (op === 2) s = Math.max(s, a[(iy * inW + ix) * inC + co]);
                  else s += a[(iy * inW + ix) * inC + co];
                }
              }
              y[(oy * outW + ox) * outC + co] = op === 3 ? s / (kh * kw) : s;
            }
          }
        }
      }
      if (act === 4 || act === 5) for (const v of y) minAbsPre = Math.min(minAbsPre, Math.abs(v));
      a = y.map((v) => actRef(act, v));
    }
    out.set(a, r * outLen);
  }
  return { out, minAbsPre };
}
