// The drawing box of the MNIST page: a drawn digit → the 28 × 28 input the network was trained on.

/** Side of an MNIST digit in pixels, and pixels per digit. */
export const SIDE = 28;
export const FEATURES = SIDE * SIDE;
/** MNIST fits each digit's bounding box into a BOX × BOX square of the field. */
const BOX = 20;

/** Area-averaging weights that map `n` source pixels starting at `from` onto `size` target pixels
 *  of `scale` target pixels per source pixel: for each target pixel, its [source index, overlap] pairs. */
function areaWeights(from, n, scale, size) {
  const out = [];
  for (let t = 0; t < size; t++) {
    const lo = from + t / scale, hi = from + (t + 1) / scale;
    const pairs = [];
    for (let s = Math.floor(lo); s < Math.min(Math.ceil(hi), from + n); s++) {
      const w = Math.min(hi, s + 1) - Math.max(lo, s);
      if (w > 0) pairs.push([s, w]);
    }
    out.push(pairs);
  }
  return out;
}

/**
 * A drawing as MNIST prepares its digits: the ink's bounding box scaled (keeping its aspect ratio)
 * into a 20×20 box by area averaging, then placed in the 28×28 field with its centre of mass at the
 * centre; values in [0, 1] like the training inputs (the mnist package's pixel/255).
 * `ink` is W × H, row-major, in [0, 1]; the result is 28 × 28 row-major, or null without ink.
 */
export function toMnistInput(ink, W, H) {
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    if (ink[y * W + x] > 0.05) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const scale = BOX / Math.max(w, h);
  const tw = Math.max(1, Math.round(w * scale)), th = Math.max(1, Math.round(h * scale));
  const wx = areaWeights(x0, w, scale, tw), wy = areaWeights(y0, h, scale, th);
  const small = new Float32Array(tw * th);
  let mass = 0, mx = 0, my = 0;
  for (let ty = 0; ty < th; ty++) for (let tx = 0; tx < tw; tx++) {
    let sum = 0, area = 0;
    for (const [sy, a] of wy[ty]) for (const [sx, b] of wx[tx]) {
      sum += a * b * ink[sy * W + sx];
      area += a * b;
    }
    const v = area > 0 ? Math.min(1, sum / area) : 0;
    small[ty * tw + tx] = v;
    mass += v;
    mx += v * (tx + 0.5);
    my += v * (ty + 0.5);
  }
  if (mass === 0) return null;
  const input = new Float32Array(FEATURES);
  const ox = Math.round(SIDE / 2 - mx / mass), oy = Math.round(SIDE / 2 - my / mass);
  for (let ty = 0; ty < th; ty++) for (let tx = 0; tx < tw; tx++) {
    const X = tx + ox, Y = ty + oy;
    if (X >= 0 && X < SIDE && Y >= 0 && Y < SIDE) input[Y * SIDE + X] = small[ty * tw + tx];
  }
  return input;
}
