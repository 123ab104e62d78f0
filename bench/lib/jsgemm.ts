// A plain-JavaScript blocked GEMM, the "no WebAssembly" baseline of the benchmarks:
// C(M×N) = op(A)·B, row-major Float32Arrays, op(A) = A (M×K) or Aᵀ (A stored K×M).
// op(A) rows and B columns are first copied to unit-stride scratch (Bᵀ: N×K), then each C row is
// computed 4 columns at a time: 4 dot products sharing one read of the A row, accumulated in
// locals (f64, JS numbers) over K blocks that keep the 4 Bᵀ rows in cache.

const KB = 512;
let scratchA = new Float32Array(0);
let scratchB = new Float32Array(0);

export function jsGemm(transA: boolean, M: number, N: number, K: number, A: Float32Array,
  B: Float32Array, C: Float32Array): void {
  if (scratchB.length < N * K) scratchB = new Float32Array(N * K);
  const bt = scratchB;
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < N; j++) bt[j * K + k] = B[k * N + j];
  }
  let a = A;
  if (transA) {
    if (scratchA.length < M * K) scratchA = new Float32Array(M * K);
    a = scratchA;
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < M; i++) a[i * K + k] = A[k * M + i];
    }
  }
  C.fill(0, 0, M * N);
  for (let k0 = 0; k0 < K; k0 += KB) {
    const k1 = Math.min(K, k0 + KB);
    for (let i = 0; i < M; i++) {
      const ai = i * K;
      const ci = i * N;
      let j = 0;
      for (; j + 4 <= N; j += 4) {
        const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = k0; k < k1; k++) {
          const x = a[ai + k];
          s0 += x * bt[b0 + k];
          s1 += x * bt[b1 + k];
          s2 += x * bt[b2 + k];
          s3 += x * bt[b3 + k];
        }
        C[ci + j] += s0;
        C[ci + j + 1] += s1;
        C[ci + j + 2] += s2;
        C[ci + j + 3] += s3;
      }
      for (; j < N; j++) {
        const b0 = j * K;
        let s = 0;
        for (let k = k0; k < k1; k++) s += a[ai + k] * bt[b0 + k];
        C[ci + j] += s;
      }
    }
  }
}
