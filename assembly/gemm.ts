// gemm kernel family: C = α·op(A)·op(B) + β·C in f32, row-major, BLAS sgemm semantics.
//   op(A): M × K — A stored M × K (lda ≥ K) when transA = 0, K × M (lda ≥ M) when transA = 1
//   op(B): K × N — B stored K × N (ldb ≥ N) when transB = 0, N × K (ldb ≥ K) when transB = 1
//   C:     M × N, ldc ≥ N; never read when β = 0 (it may hold NaN garbage)
// The networks' forward passes use the same engine through dense.ts; sgemm itself serves the exact
// last layer (bindings/nn/lastlayer.ts: logits H·W and the gradient Hᵀ·G). The ensemble algebra
// is f64 and has its own kernels (gram.ts, lsq.ts, crossentropy.ts, eki.ts).
// The engine (4×8 register tiles, fused epilogue) lives in gemm-tile.ts, B packing in gemm-pack.ts.
import {
  ACT_IDENTITY, checkDisjoint, checkFinite, checkFlag, checkRegion, checkSize, checkStride, checkWorkBytes,
} from "./checks";
import { dotTail, engineWorkBytes, kBlock, packB, packedWidth, span } from "./gemm-pack";
import { gemmBlock } from "./gemm-tile";

// Bytes of scratch `work` sgemm needs for these sizes: one packed K block of op(B) + a tile.
export function sgemmWorkBytes(M: i32, N: i32, K: i32): i32 {
  checkSize(M, "sgemmWorkBytes", "M");
  checkSize(N, "sgemmWorkBytes", "N");
  checkSize(K, "sgemmWorkBytes", "K");
  const bytes = engineWorkBytes(N, K);
  checkWorkBytes(bytes, "sgemmWorkBytes", "use a smaller N");
  return <i32>bytes;
}

export function sgemm(transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32,
  A: usize, lda: i32, B: usize, ldb: i32, beta: f32, C: usize, ldc: i32, work: usize): void {
  checkFlag(transA, "sgemm", "transA", "A is M×K", "A is K×M");
  checkFlag(transB, "sgemm", "transB", "B is K×N", "B is N×K");
  checkSize(M, "sgemm", "M");
  checkSize(N, "sgemm", "N");
  checkSize(K, "sgemm", "K");
  checkFinite(alpha, "sgemm", "alpha");
  checkFinite(beta, "sgemm", "beta");
  // Stored shapes: A is aRows × aCols, B is bRows × bCols.
  const aRows = transA ? K : M;
  const aCols = transA ? M : K;
  const bRows = transB ? N : K;
  const bCols = transB ? K : N;
  checkStride(lda, aCols, "sgemm", "lda", "the row length of A");
  checkStride(ldb, bCols, "sgemm", "ldb", "the row length of B");
  checkStride(ldc, N, "sgemm", "ldc", "N");
  const aBytes = span(aRows, aCols, lda);
  const bBytes = span(bRows, bCols, ldb);
  const cBytes = span(M, N, ldc);
  const wBytes = engineWorkBytes(N, K);
  checkRegion(A, aBytes, 4, "sgemm", "A");
  checkRegion(B, bBytes, 4, "sgemm", "B");
  checkRegion(C, cBytes, 4, "sgemm", "C");
  checkRegion(work, wBytes, 16, "sgemm", "work (sgemmWorkBytes(M, N, K) bytes, 16-aligned)");
  checkDisjoint(C, cBytes, A, aBytes, "sgemm", "C", "A");
  checkDisjoint(C, cBytes, B, bBytes, "sgemm", "C", "B");
  checkDisjoint(work, wBytes, A, aBytes, "sgemm", "work", "A");
  checkDisjoint(work, wBytes, B, bBytes, "sgemm", "work", "B");
  checkDisjoint(work, wBytes, C, cBytes, "sgemm", "work", "C");

  const ldcB = <usize>ldc << 2;
  if (alpha == 0) {
    // BLAS convention: A and B are not read; C = β·C (and β = 0 still does not read C).
    for (let i = 0; i < M; i++) {
      const c = C + <usize>i * ldcB;
      for (let j = 0; j < N; j++) {
        const o = c + (<usize>j << 2);
        store<f32>(o, beta == 0 ? <f32>0.0 : load<f32>(o) * beta);
      }
    }
    return;
  }
  const kc = kBlock(K);
  const tile = work + <usize>kc * <usize>packedWidth(N) * 4;
  // op(A)[i][k] sits at A + i·aRow + k·aCol (bytes): one loop serves both transposes.
  const aRow: usize = transA ? 4 : <usize>lda << 2;
  const aCol: usize = transA ? <usize>lda << 2 : 4;
  for (let k0 = 0; k0 < K; k0 += kc) {
    const kb = K - k0 < kc ? K - k0 : kc;
    packB(transB != 0, k0, kb, N, B, ldb, work, dotTail(N, aCol));
    // Later K blocks accumulate onto the partial C: β only on the first.
    const first = k0 == 0;
    gemmBlock(M, N, kb, A + <usize>k0 * aCol, aRow, aCol, work, C, ldc, alpha,
      first ? beta : <f32>1.0, !first || beta != 0, 0, ACT_IDENTITY, tile);
  }
}
