// Small seeded generators for the TypeScript side of training: weight initialization, data
// shuffling and splits. The perturbations of the optimizers come from the counter-based kernels in
// rng.ts instead; these only need to be reproducible from a seed in every host.

/** A 32-bit integer hash of a seed and up to three counters (murmur3 finalizer on a mix). */
export function hash32(seed: number, a = 0, b = 0, c = 0): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [a, b, c]) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** mulberry32: a fast 32-bit-state generator; its whole state is one integer. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal by Marsaglia's polar method (the second value is dropped, so the state stays
   *  one integer). Only IEEE-exact operations and portableLog are used: the same seed gives the
   *  same values in every JavaScript engine (Math.log/Math.cos may differ in the last bit). */
  normal(): number {
    for (;;) {
      const u = 2 * this.next() - 1;
      const v = 2 * this.next() - 1;
      const s = u * u + v * v;
      if (s < 1 && s > 0) return u * Math.sqrt((-2 * portableLog(s)) / s);
    }
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

const LN2 = 0.6931471805599453;
const SQRT2 = 1.4142135623730951;

/** ln x for finite x > 0 from +, −, ×, ÷ only, so it is bit-identical in every engine: x = m·2^e
 *  with m in [√½, √2) (exact scalings by 2), ln m = 2·atanh(t), t = (m − 1)/(m + 1), |t| < 0.172,
 *  whose odd series converges to double precision within 14 terms. */
export function portableLog(x: number): number {
  let m = x;
  let e = 0;
  while (m >= SQRT2) {
    m /= 2;
    e++;
  }
  while (m < SQRT2 / 2) {
    m *= 2;
    e--;
  }
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  let term = t;
  let sum = 0;
  for (let k = 1; k <= 29; k += 2) {
    sum += term / k;
    term *= t2;
  }
  return 2 * sum + e * LN2;
}

/** A Fisher–Yates shuffle of `items` in place, driven by `rng`. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(items: T, rng: SeededRandom): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/** The permutation of 0..n−1 for one epoch: a pure function of (seed, epoch), so a resumed run
 *  can regenerate the order it was in instead of storing it. */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  return shuffleInPlace(perm, new SeededRandom(hash32(seed, 0x5eed, epoch)));
}
