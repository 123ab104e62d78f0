// Weight quantization of the sequential network (seq.ts): a layer with levels ≥ 2 runs its forward
// on Q(w) = −R + Δ·round((clamp(w, −R, R) + R)/Δ), Δ = 2R/(levels − 1), every step in f32, rounding
// half away from zero (the argument of round is ≥ 0, so floor(t + 0.5)). levels 2: {−R, R};
// levels 3: {−R, 0, R}. NaN stays NaN (min/max propagate it). Biases are never quantized.

// dst[i] = Q(src[i]) for i < count (f32, dst may equal src).
export function quantizeInto(count: i32, levels: i32, R: f32, src: usize, dst: usize): void {
  const delta: f32 = (R + R) / <f32>(levels - 1);
  const end = <usize>count << 2;
  for (let o: usize = 0; o < end; o += 4) {
    const c = min<f32>(max<f32>(load<f32>(src + o), -R), R);
    const t = (c + R) / delta;
    store<f32>(dst + o, delta * Mathf.floor(t + 0.5) - R);
  }
}
