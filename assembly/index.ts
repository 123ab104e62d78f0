// Entry of the enkf-wasm module: re-exports every kernel family. One family per file.
export * from "./memory";
export * from "./gemm";
export * from "./dense";
export { mlpNetwork, mlpNetworkBytes, mlpWorkBytes } from "./net";
export * from "./rng";
export * from "./lsq";
export * from "./crossentropy";
export * from "./eki";
export * from "./convert";
export * from "./finite";
export * from "./cholesky";
export * from "./lowrank";
export { lowRankMembers, lowRankMembersWorkBytes } from "./lowrank-members";
export { seqForward, seqNetwork, seqNetworkBytes, seqParamCount, seqWorkBytes } from "./seq";
export { selfCheck } from "./selfcheck";
