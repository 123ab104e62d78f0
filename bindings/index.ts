// Public API of enkf-wasm.
export { loadModule, hostHasSimd, defaultModuleUrl } from './wasm.js';
export type { RawExports, EnkfModule, LoadOptions, WasmSource } from './wasm.js';
export { Workspace, Buf } from './workspace.js';
export type { DType } from './workspace.js';
export { KernelError, NotPositiveDefiniteError, OptimizationError, FormatError } from './errors.js';
