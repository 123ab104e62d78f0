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

  /** Standard normal by Box–Muller (no cached second value, so the state stays one integer). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: log stays finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
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
