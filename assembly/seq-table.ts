// The layer table of the seq kernel family (seq.ts): its words, the accessors, and the checks
// that seqParamCount / seqWorkBytes / seqNetwork / seqForward run on it (messages in the
// checks.ts style: "<kernel>: layer l <word> must be …; got …").
//
// Layer table, word w of layer l at table[l·LAYER_WORDS + w]:
//   0 op (OP_*)  1 act (ACT_*; pools 0)  2 inH 3 inW 4 inC  5 outH 6 outW 7 outC (dense: 1, 1, units)
//   8 kh 9 kw 10 strideH 11 strideW (pools: the pool size and strides; dense: ignored)
//  12 padTop 13 padLeft (conv 'same': ⌊total/2⌋ of total = max((out − 1)·stride + k − in, 0);
//     'valid' and pools: 0; dense: ignored)
//  14 wOffset: float index of W in a parameter row (b follows W); −1 for pools
//  15 levels: 0 real weights, ≥ 2 quantized weights  16 range R (f32 bits; 0 when levels = 0)
//  17 … 19 reserved, 0
// Parameters: layer after layer, W (fanIn × fanOut row-major; conv: [kh, kw, inC, outC]) then b.
import { ACT_HARD_TANH, ACT_IDENTITY, checkAct, checkArray, checkFits, checkSize } from "./checks";

export const LAYER_WORDS: i32 = 20;
export const OP_DENSE: i32 = 0;
export const OP_CONV: i32 = 1;
export const OP_MAX_POOL: i32 = 2;
export const OP_AVG_POOL: i32 = 3;

export const W_OP = 0, W_ACT = 1, W_IN = 2, W_OUT = 5, W_KH = 8, W_KW = 9, W_SH = 10, W_SW = 11, W_PT = 12, W_PL = 13;
export const W_OFFSET = 14, W_LEVELS = 15, W_RANGE = 16, W_RESERVED = 17;

// Largest levels: every level index is an exact f32 integer.
const LEVELS_MAX: i32 = 1 << 24;

// Word w of layer l.
// @ts-ignore: decorator
@inline
export function word(table: usize, l: i32, w: i32): i32 {
  return load<i32>(table + (<usize>(l * LAYER_WORDS + w) << 2));
}

// Per-sample sizes of layer l's input and output (checked to fit i32 by checkTable).
// @ts-ignore: decorator
@inline
export function inSize(table: usize, l: i32): i32 {
  return word(table, l, W_IN) * word(table, l, W_IN + 1) * word(table, l, W_IN + 2);
}

// @ts-ignore: decorator
@inline
export function outSize(table: usize, l: i32): i32 {
  return word(table, l, W_OUT) * word(table, l, W_OUT + 1) * word(table, l, W_OUT + 2);
}

// Whether layer l has parameters (dense or conv2d).
// @ts-ignore: decorator
@inline
export function parametric(table: usize, l: i32): bool {
  return word(table, l, W_OP) <= OP_CONV;
}

// fanIn of a parametric layer: inH·inW·inC (dense) or kh·kw·inC (conv2d).
export function fanIn(table: usize, l: i32): i32 {
  return word(table, l, W_OP) == OP_DENSE ? inSize(table, l) : word(table, l, W_KH) * word(table, l, W_KW) * word(table, l, W_IN + 2);
}

// Name of table word w (w < W_OFFSET: the geometry words), for messages.
function wordName(w: i32): string {
  switch (w) {
    case W_OP: return "op";
    case W_ACT: return "act";
    case W_IN: return "inH";
    case W_IN + 1: return "inW";
    case W_IN + 2: return "inC";
    case W_OUT: return "outH";
    case W_OUT + 1: return "outW";
    case W_OUT + 2: return "outC";
    case W_KH: return "kh";
    case W_KW: return "kw";
    case W_SH: return "strideH";
    case W_SW: return "strideW";
    case W_PT: return "padTop";
    case W_PL: return "padLeft";
    case W_OFFSET: return "wOffset";
    case W_LEVELS: return "levels";
    case W_RANGE: return "range";
  }
  return "word " + w.toString();
}

// The abort of a table word: "<kernel>: layer l <word> must be <what>; got <value>".
function badWord(table: usize, l: i32, w: i32, what: string, kernel: string): void {
  abort(kernel + ": layer " + l.toString() + " " + wordName(w) + " must be " + what + "; got " + word(table, l, w).toString());
}

// Aborts unless word w of layer l equals want; what says where want comes from.
function expectWord(table: usize, l: i32, w: i32, want: i32, what: string, kernel: string): void {
  if (word(table, l, w) != want) badWord(table, l, w, what + " = " + want.toString(), kernel);
}

// Aborts unless word w of layer l equals the constant want; why says why.
function expectConst(table: usize, l: i32, w: i32, want: i32, why: string, kernel: string): void {
  if (word(table, l, w) != want) badWord(table, l, w, want.toString() + " (" + why + ")", kernel);
}

// Aborts unless words w0 … w1 − 1 of layer l are ≥ 1.
function expectPositive(table: usize, l: i32, w0: i32, w1: i32, kernel: string): void {
  for (let w = w0; w < w1; w++) if (word(table, l, w) < 1) badWord(table, l, w, "≥ 1", kernel);
}

// Aborts unless the product of words w … w + 2 of layer l (a per-sample size) is ≤ 2^29 − 1.
function expectSize(table: usize, l: i32, w: i32, kernel: string): void {
  const size = <u64>word(table, l, w) * <u64>word(table, l, w + 1) * <u64>word(table, l, w + 2);
  if (size > 0x1FFFFFFF) {
    abort(kernel + ": layer " + l.toString() + " " + wordName(w) + "·" + wordName(w + 1) + "·" + wordName(w + 2) +
      " must be ≤ " + (0x1FFFFFFF).toString() + " (use a smaller layer); got " + size.toString());
  }
}

// Checks the output size and padding of one spatial axis (a = 0: H, 1: W) of a conv / pool.
function checkAxis(table: usize, l: i32, a: i32, pooled: bool, kernel: string): void {
  const inS = word(table, l, W_IN + a), outS = word(table, l, W_OUT + a);
  const k = word(table, l, W_KH + a), st = word(table, l, W_SH + a), pad = word(table, l, W_PT + a);
  const valid = inS >= k ? (inS - k) / st + 1 : 0;
  if (pooled) {
    expectConst(table, l, W_PT + a, 0, "pools are 'valid'", kernel);
    if (valid < 1) badWord(table, l, W_KH + a, "≤ " + wordName(W_IN + a) + " = " + inS.toString() + " (the window must fit)", kernel);
    expectWord(table, l, W_OUT + a, valid, "⌊(in − k)/stride⌋ + 1", kernel);
    return;
  }
  const same = (inS + st - 1) / st;
  const sameTop = max((same - 1) * st + k - inS, 0) / 2;
  if (pad == 0 && outS == valid && valid >= 1) return;
  if (outS == same && pad == sameTop) return;
  abort(kernel + ": layer " + l.toString() + " " + wordName(W_OUT + a) + ", " + wordName(W_PT + a) + " must be " +
    (valid >= 1 ? valid.toString() + ", 0 ('valid') or " : "") + same.toString() + ", " + sameTop.toString() +
    " ('same'); got " + outS.toString() + ", " + pad.toString());
}

// Checks the words of a pooling layer l.
function checkPool(table: usize, l: i32, kernel: string): void {
  expectConst(table, l, W_ACT, 0, "pools have no activation", kernel);
  expectWord(table, l, W_OUT + 2, word(table, l, W_IN + 2), "inC", kernel);
  expectPositive(table, l, W_KH, W_PT, kernel);
  checkAxis(table, l, 0, true, kernel);
  checkAxis(table, l, 1, true, kernel);
  expectConst(table, l, W_OFFSET, -1, "pools have no parameters", kernel);
  expectConst(table, l, W_LEVELS, 0, "pools have no weights", kernel);
  expectConst(table, l, W_RANGE, 0, "pools have no weights", kernel);
}

// Checks the words of a dense / conv2d layer l whose W starts at float n; returns its parameter count.
function checkParametric(table: usize, l: i32, n: u64, kernel: string): u64 {
  const act = word(table, l, W_ACT);
  if (act < ACT_IDENTITY || act > ACT_HARD_TANH) checkAct(act, kernel, "layer " + l.toString() + " act");
  if (word(table, l, W_OP) == OP_DENSE) {
    expectConst(table, l, W_OUT, 1, "dense", kernel);
    expectConst(table, l, W_OUT + 1, 1, "dense", kernel);
  } else {
    expectPositive(table, l, W_KH, W_PT, kernel);
    checkAxis(table, l, 0, false, kernel);
    checkAxis(table, l, 1, false, kernel);
  }
  // W right after the previous layer's b
  if (n > 0x7FFFFFFF) checkFits(n, 0x7FFFFFFF, kernel, "the parameter count", "use fewer or smaller layers");
  expectWord(table, l, W_OFFSET, <i32>n, "the parameter count of the layers before it", kernel);
  const fanOut = <u64>word(table, l, W_OUT + 2);
  const K = word(table, l, W_OP) == OP_DENSE ? <u64>inSize(table, l)
    : <u64>word(table, l, W_KH) * <u64>word(table, l, W_KW) * <u64>word(table, l, W_IN + 2);
  if (K > 0x1FFFFFFF) checkFits(K, 0x1FFFFFFF, kernel, "a layer's fanIn", "use a smaller kernel or input");
  const levels = word(table, l, W_LEVELS);
  const R = reinterpret<f32>(word(table, l, W_RANGE));
  if (levels == 0) {
    expectConst(table, l, W_RANGE, 0, "the bits of +0.0 when levels = 0", kernel);
  } else if (levels < 2 || levels > LEVELS_MAX) {
    badWord(table, l, W_LEVELS, "0 (real weights) or in [2, " + LEVELS_MAX.toString() + "]", kernel);
  } else if (!(R > 0 && R < Infinity)) {
    abort(kernel + ": layer " + l.toString() + " range must be the f32 bits of a finite R > 0 with levels ≥ 2; got " +
      R.toString());
  }
  return K * fanOut + fanOut;
}

// Checks layers and the table (layers × LAYER_WORDS i32); returns the parameter count n.
export function checkTable(layers: i32, table: usize, kernel: string): u64 {
  checkSize(layers, kernel, "layers");
  checkArray(table, <u64>layers * <u64>LAYER_WORDS, 4, kernel, "table");
  let n: u64 = 0;
  for (let l = 0; l < layers; l++) {
    const op = word(table, l, W_OP);
    if (op < OP_DENSE || op > OP_AVG_POOL) badWord(table, l, W_OP, "0 (dense), 1 (conv2d), 2 (maxPool2d) or 3 (avgPool2d)", kernel);
    expectPositive(table, l, W_IN, W_OUT + 3, kernel);
    expectSize(table, l, W_IN, kernel);
    expectSize(table, l, W_OUT, kernel);
    // the shapes chain: layer l's input is layer l − 1's output
    if (l > 0) {
      for (let a = 0; a < 3; a++) {
        if (word(table, l, W_IN + a) != word(table, l - 1, W_OUT + a)) {
          badWord(table, l, W_IN + a, "layer " + (l - 1).toString() + "'s " + wordName(W_OUT + a) + " = " +
            word(table, l - 1, W_OUT + a).toString(), kernel);
        }
      }
    }
    for (let w = W_RESERVED; w < LAYER_WORDS; w++) expectConst(table, l, w, 0, "reserved", kernel);
    if (parametric(table, l)) n += checkParametric(table, l, n, kernel);
    else checkPool(table, l, kernel);
  }
  if (n > 0x7FFFFFFF) checkFits(n, 0x7FFFFFFF, kernel, "the parameter count", "use fewer or smaller layers");
  return n;
}
