// cholesky kernel family (in progress).
