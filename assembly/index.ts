// Entry of the enkf-wasm module: re-exports every kernel family. One family per file.
export * from "./memory";
export * from "./gemm";
export * from "./dense";
export * from "./rng";
export * from "./ensemble";
export * from "./cholesky";
export * from "./lowrank";
