// gemm kernel family (in progress).
