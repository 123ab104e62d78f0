// The digits file of the MNIST page (written by scripts/demo.mjs, read by mnist-worker.js): a train/test
// split in one byte per pixel, about 7.8 MB for 10 000 digits.
//
//   magic "ENKFMNIST1" (10 bytes), u16 side (28), u32 train count, u32 test count (little-endian),
//   train pixels, test pixels (count × side², row-major, one digit per row), train labels, test labels.
//
// The mnist package stores each pixel as round(byte / 255, 3); a byte here is round(255 · value), and
// decoding gives back round(1000 · byte / 255) / 1000: exactly the inputs fit() sees in Node.

export const DIGITS_MAGIC = 'ENKFMNIST1';
const HEADER = 20;

/** Pixel value of each byte, as the mnist package has it. */
export const PIXEL_VALUE = Float32Array.from({ length: 256 }, (_, b) => Math.round((1000 * b) / 255) / 1000);

/** The split `{ train, test }` (each { images: Float32Array in [0, 1], labels: Uint8Array, count })
 *  with `side` as one file's bytes. */
export function encodeDigits({ train, test }, side) {
  const features = side * side;
  const bytes = new Uint8Array(HEADER + (train.count + test.count) * (features + 1));
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < DIGITS_MAGIC.length; i++) bytes[i] = DIGITS_MAGIC.charCodeAt(i);
  view.setUint16(10, side, true);
  view.setUint32(12, train.count, true);
  view.setUint32(16, test.count, true);
  let at = HEADER;
  for (const set of [train, test]) {
    for (let i = 0; i < set.images.length; i++) bytes[at + i] = Math.round(set.images[i] * 255);
    at += set.images.length;
  }
  for (const set of [train, test]) {
    bytes.set(set.labels, at);
    at += set.count;
  }
  return bytes;
}

/** One file's bytes → { side, features, train, test }; each set has `images` (Float32Array, count ×
 *  side²), `bytes` (the raw pixels), `labels` and `count`. `source` names the file in errors. */
export function decodeDigits(buffer, source = 'the digits file') {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, DIGITS_MAGIC.length));
  if (magic !== DIGITS_MAGIC) {
    throw new Error(`${source} is not a digits file (it starts with "${magic}", expected "${DIGITS_MAGIC}"). Run npm run demo, which writes it.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const side = view.getUint16(10, true);
  const counts = [view.getUint32(12, true), view.getUint32(16, true)];
  const features = side * side;
  const total = counts[0] + counts[1];
  const expected = HEADER + total * (features + 1);
  if (bytes.length !== expected) {
    throw new Error(`${source} has ${bytes.length} bytes, not the ${expected} its header announces. Delete it and run npm run demo again.`);
  }
  const pixels = bytes.subarray(HEADER, HEADER + total * features);
  const images = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) images[i] = PIXEL_VALUE[pixels[i]];
  const labels = bytes.subarray(HEADER + total * features);
  const set = (from, count) => ({
    images: images.subarray(from * features, (from + count) * features),
    bytes: pixels.subarray(from * features, (from + count) * features),
    labels: labels.subarray(from, from + count),
    count,
  });
  return { side, features, train: set(0, counts[0]), test: set(counts[0], counts[1]) };
}
