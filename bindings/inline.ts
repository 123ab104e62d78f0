// Entry for the bundle with both modules' bytes inlined by esbuild (loader "binary"):
// no file or network access is needed to load it, in any host.
import simd from '../build/enkf.wasm';
import scalar from '../build/enkf-scalar.wasm';
import { setInlinedModules } from './wasm.js';

setInlinedModules(simd, scalar);
export * from './index.js';
