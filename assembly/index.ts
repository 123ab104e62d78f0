// Entry of the enkf-wasm module: re-exports every kernel family. One family per file.
export * from "./memory";
