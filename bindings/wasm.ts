// The WebAssembly boundary: the one adapter that instantiates the module (through
// @assemblyscript/loader) and the hand-typed interface of its raw exports.
//
// ABI conventions (every kernel): BLAS argument order — sizes, then scalars, then pointers.
// Pointers are byte offsets into `memory`, 16-byte aligned when they come from `alloc`.
// Matrices are row-major; "k×m" means k rows (members) of m contiguous values.
// f32 for forward passes, f64 for ensemble-space algebra and θ (docs/method.md §5).
import { instantiate } from '@assemblyscript/loader';
import { KernelError } from './errors.js';
import { hasNodeBuiltins, nodeBuiltin } from './platform.js';

type Ptr = number;

// The host types these declarations name, declared here so that a project without the DOM lib
// (Node, lib: ["es2022"]) type-checks them. They merge with the DOM lib's and @types/node's full
// declarations: empty ones add nothing, and Memory's members are exactly the DOM lib's.
declare global {
  namespace WebAssembly {
    interface Module {}
    interface Memory {
      readonly buffer: ArrayBuffer;
      grow(delta: number): number;
    }
  }
  interface URL {}
  interface Response {}
  interface Blob {}
  interface AbortSignal {}
}

/** The raw exports of enkf.wasm (and of the scalar fallback, which has the same exports). */
export interface RawExports {
  readonly memory: WebAssembly.Memory;

  // memory.ts
  /** A zero-filled, 16-byte aligned block of `bytes` bytes. */
  alloc(bytes: number): Ptr;
  free(ptr: Ptr): void;
  memoryBytes(): number;
  simdEnabled(): number;

  // gemm.ts — C(M×N) = alpha·op(A)·op(B) + beta·C, row-major; op(A) M×K, op(B) K×N, f32.
  sgemm(transA: number, transB: number, M: number, N: number, K: number, alpha: number,
    A: Ptr, lda: number, B: Ptr, ldb: number, beta: number, C: Ptr, ldc: number, work: Ptr): void;
  /** Bytes of scratch `work` that sgemm needs for these sizes (B panel packing). */
  sgemmWorkBytes(M: number, N: number, K: number): number;

  // dense.ts, net.ts — fused layers for a whole ensemble; act: 0 identity, 1 relu, 2 tanh, 3 sigmoid.
  /** Y_j(rows×outDim) = act(X_j(rows×inDim)·W_j(inDim×outDim) + b_j) for j < members.
   *  Strides are in floats between members; xStride = 0 shares one X across members. */
  denseEnsemble(members: number, rows: number, inDim: number, outDim: number, act: number,
    X: Ptr, xStride: number, W: Ptr, b: Ptr, pStride: number, Y: Ptr, yStride: number, work: Ptr): void;
  /** Bytes of a network descriptor (48). */
  mlpNetworkBytes(): number;
  /** Writes the network descriptor at `net` (mlpNetworkBytes() bytes, 4-aligned) and checks it as a
   *  one-member call would. The descriptor holds, as i32 words in this argument order:
   *  layers, act (hidden layers), outAct (last layer), rows, dims (i32[layers+1]), X (rows×d_0 f32,
   *  shared by all members), P (f32 parameter rows pStride apart, per layer W (d_l×d_{l+1}) then
   *  b (d_{l+1})), pStride, out (members×rows×d_L f32), bufA, bufB (rows×max(d_1..d_{L-1}) f32 each,
   *  reused by every member), work (mlpWorkBytes bytes, 16-aligned). Write it again whenever one
   *  of these changes (a reallocated buffer, another row count). */
  mlpNetwork(net: Ptr, layers: number, act: number, outAct: number, rows: number, dims: Ptr, X: Ptr,
    P: Ptr, pStride: number, out: Ptr, bufA: Ptr, bufB: Ptr, work: Ptr): void;
  /** Whole MLP forward of the `members` parameter rows in the descriptor's P, member by member
   *  through all layers, into its out (members×rows×d_L). */
  mlpForward(net: Ptr, members: number): void;
  /** mlpForward of the NLB members θ + σ·s_i·ξ_{q_i}, i = member0 + r, r < members (as perturb32
   *  writes them, bit for bit), without storing them: each member's f32 parameters are generated
   *  into the descriptor's P (1 row, or 2 with antithetic pairs and members ≥ 2: a ±ξ pair from one
   *  generation) and run through all layers before the next. theta: f64 n (n = parameter count);
   *  draw: the RNG draw counter; center ≠ 0 runs θ (rounded to f32) first as slice 0;
   *  out: (center + members)×rows×d_L. Memory O(n + rows·width), not O(members·n). */
  mlpForwardPerturbed(net: Ptr, members: number, theta: Ptr, sigma: number, seed: number, draw: number,
    member0: number, antithetic: number, center: number): void;
  /** Bytes of scratch `work` that mlpForward / mlpForwardPerturbed / denseEnsemble need. */
  mlpWorkBytes(rows: number, layers: number, dims: Ptr): number;

  // rng.ts — counter-based N(0,1): value (seed, draw, member, index) is a pure function.
  /** out[j] = N(seed, draw, member, offset + j), j < n (f64). */
  randn(n: number, seed: number, draw: number, member: number, offset: number, out: Ptr): void;
  /** Row r (global member i = member0 + r) = θ + σ·s_i·ξ_{q_i}; q_i = i, s_i = 1, or with
   *  antithetic pairs q_i = ⌊i/2⌋, s_i = (−1)^i. theta: f64 n; out: f64 k×n. */
  perturb64(k: number, n: number, sigma: number, seed: number, draw: number, member0: number,
    antithetic: number, theta: Ptr, out: Ptr): void;
  /** As perturb64 with f32 output rows of stride `outStride` floats (network parameters). */
  perturb32(k: number, n: number, sigma: number, seed: number, draw: number, member0: number,
    antithetic: number, outStride: number, theta: Ptr, out: Ptr): void;
  /** θ += coef·Σ_i z_i·s_i·ξ_{q_i} over members i = member0..member0+k−1, regenerating ξ
   *  (E is never stored; docs/method.md §2.2). z: f64 k; theta: f64 n. One term per stream:
   *  a member (c = coef·z_i) or, with antithetic pairs, a pair (2u, 2u+1) sharing ξ_u
   *  (c = coef·(z_2u − z_2u+1)); terms are added to each θ_j one by one in ascending stream
   *  order, so consecutive calls over a split member range give the same bits. With antithetic
   *  pairs member0 and k must be even (pairs are never split across calls). */
  nlbUpdate(k: number, n: number, coef: number, seed: number, draw: number, member0: number,
    antithetic: number, z: Ptr, theta: Ptr): void;
  /** The Tikhonov terms in one generator pass: with e_i = s_i·ξ_{q_i} (member i = member0 + r),
   *  G(k×k) = [e_a·e_b] (ΞᵀΞ, exactly symmetric), p(k) = [e_a·θ] (Ξᵀθ), f64 accumulation.
   *  With antithetic pairs member0 and k must be even; k ≤ 8192 (16384 with pairs).
   *  theta: f64 n; G: f64 k×k; p: f64 k (no overlaps). */
  drawGram(k: number, n: number, seed: number, draw: number, member0: number, antithetic: number,
    theta: Ptr, G: Ptr, p: Ptr): void;

  // lsq.ts, crossentropy.ts, eki.ts, convert.ts — f64 accumulation; ΔF_i = F_i − c;
  // W = diag(w) if w ≠ 0 else wScalar·I.
  /** out(m) = (1/k)·Σ_i F_i. */
  meanRows(k: number, m: number, F: Ptr, out: Ptr): void;
  /** A(k×k) = ΔFᵀWΔF, r(k) = ΔFᵀW(y − c); returns ½(y − c)ᵀW(y − c). */
  lsSystem(k: number, m: number, wScalar: number, F: Ptr, c: Ptr, w: Ptr, y: Ptr, A: Ptr, r: Ptr): number;
  /** Softmax cross-entropy, m = B·C logits, H and g at c (mean over B samples):
   *  A = ΔFᵀHΔF, r = −ΔFᵀg; returns the loss at c. labels: i32 B. */
  ceSystem(k: number, B: number, C: number, F: Ptr, c: Ptr, labels: Ptr, A: Ptr, r: Ptr): number;
  /** R(k×p): R_iq = ΔF_iᵀ W V_q, V: p×m. */
  projectRows(k: number, m: number, p: number, wScalar: number, F: Ptr, c: Ptr, w: Ptr, V: Ptr, R: Ptr): void;
  /** out(m) = Σ_i z_i ΔF_i; returns max |out|. */
  combineRows(k: number, m: number, F: Ptr, c: Ptr, z: Ptr, out: Ptr): number;
  /** out_i = ½(F_i − y)ᵀW(F_i − y). */
  lsLoss(k: number, m: number, wScalar: number, F: Ptr, w: Ptr, y: Ptr, out: Ptr): void;
  /** out_i = mean cross-entropy of member i; correct_i = #argmax hits (correct may be 0). */
  ceLoss(k: number, B: number, C: number, F: Ptr, labels: Ptr, out: Ptr, correct: Ptr): void;
  /** G_i (B·C) = ∇ of the mean cross-entropy at F_i = (softmax(F_ib) − e_label)/B. */
  ceGrad(k: number, B: number, C: number, F: Ptr, labels: Ptr, G: Ptr): void;
  /** Θ_j += Σ_l Z_lj (Θ_l − θ̄) for the persistent EKI ensemble Θ (J×n), Z: J×J;
   *  work: f64 n + J·256. */
  ekiUpdate(J: number, n: number, Theta: Ptr, Z: Ptr, work: Ptr): void;
  /** dst(f64 n) = src(f32 n). */
  widen(n: number, src: Ptr, dst: Ptr): void;
  /** dst(f32 n) = src(f64 n), rounded to nearest. */
  narrow(n: number, src: Ptr, dst: Ptr): void;

  // finite.ts
  /** flags_i (i32) = 1 when every value of row i of F (f64 k×m) is finite, else 0, decided exactly
   *  (also for huge finite values); returns the number of finite rows. */
  finiteRows(k: number, m: number, F: Ptr, flags: Ptr): number;

  // cholesky.ts — f64, row-major.
  /** L = chol(A + shift·I), lower triangle, upper zeroed (A and L may alias). Returns 0, or
   *  p + 1 when pivot p is not positive. */
  cholesky(n: number, shift: number, A: Ptr, L: Ptr): number;
  /** B(n×nrhs) ← (L·Lᵀ)⁻¹·B in place. */
  cholSolve(n: number, nrhs: number, L: Ptr, B: Ptr): void;

  // lowrank.ts — NLB with rank-r members: e_i = s_i·D_{q_i}, D per layer U_l V_lᵀ/√r and β_l, the
  // factors read from stream q_i at [U_l (d_{l−1}×r), V_l (d_l×r), β_l (d_l)] blocks, layer by layer
  // (assembly/lowrank-core.ts). dims: i32[layers+1]; theta: f64 n in the layout of bindings/nn/mlp.ts.
  /** The rank-r ensemble forward: out((center + members)×rows×d_L, f32) = the members θ + σ·e_i,
   *  i = member0 + j (θ first when center ≠ 0), one shared GEMM X·[W_1 | U_1 …] per call.
   *  sparse: 1 visits only X's nonzeros in that GEMM, 0 dense, −1 by X's nonzero fraction (same bits). */
  lowRankForward(members: number, rows: number, layers: number, act: number, outAct: number, dims: Ptr,
    rank: number, X: Ptr, theta: Ptr, sigma: number, seed: number, iter: number, member0: number,
    antithetic: number, center: number, sparse: number, out: Ptr, work: Ptr): void;
  /** Bytes of scratch `work` lowRankForward needs. */
  lowRankForwardWorkBytes(members: number, rows: number, layers: number, dims: Ptr, rank: number, antithetic: number): number;
  /** θ += coef·Σ_i z_i e_i (the contract of nlbUpdate; split calls give the same bits; whole pairs).
   *  z: f64 k; work: lowRankUpdateWorkBytes bytes. */
  lowRankUpdate(k: number, layers: number, dims: Ptr, rank: number, coef: number, seed: number, iter: number,
    member0: number, antithetic: number, z: Ptr, theta: Ptr, work: Ptr): void;
  /** Bytes of scratch `work` lowRankUpdate needs. */
  lowRankUpdateWorkBytes(layers: number, dims: Ptr, rank: number): number;
  /** G(k×k) = [e_a·e_b], p(k) = [e_a·θ] in closed form from the factors (the contract of drawGram).
   *  work: lowRankGramWorkBytes bytes. */
  lowRankGram(k: number, layers: number, dims: Ptr, rank: number, seed: number, iter: number, member0: number,
    antithetic: number, theta: Ptr, G: Ptr, p: Ptr, work: Ptr): void;
  /** Bytes of scratch `work` lowRankGram needs (every stream's coordinates, f64). */
  lowRankGramWorkBytes(k: number, layers: number, dims: Ptr, rank: number, antithetic: number): number;
}

/** Where the module's bytes come from. */
export type WasmSource =
  | URL | string | ArrayBuffer | ArrayBufferView | WebAssembly.Module | Response | Promise<Response>;

export interface LoadOptions {
  /** 'auto' (default) picks SIMD when `WebAssembly.validate` accepts a SIMD instruction. */
  simd?: boolean | 'auto';
  /** Override the module source (a URL, a path in Node, bytes, a compiled module or a Response). */
  source?: WasmSource;
}

/** One instantiated module: its own instance and memory. */
export interface EnkfModule {
  readonly exports: RawExports;
  readonly memory: WebAssembly.Memory;
  readonly simd: boolean;
  /** The compiled module this instance came from (shared by every loadModule of the same source;
   *  a worker can instantiate it again without compiling). */
  readonly compiled: WebAssembly.Module;
}

// A minimal module whose only function returns v128.const 0: valid iff the host has SIMD.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00, 0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
]);

/** True when this host validates WebAssembly SIMD (128-bit) instructions. */
export function hostHasSimd(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

let inlined: { simd: Uint8Array; scalar: Uint8Array } | undefined;

/** Used by the esbuild bundle that inlines both modules' bytes (bindings/inline.ts). */
export function setInlinedModules(simd: Uint8Array, scalar: Uint8Array): void {
  inlined = { simd, scalar };
}

/** The default location of the built module next to this package. Two literal
 *  `new URL('…', import.meta.url)` expressions, so that bundlers that follow them (Vite, webpack 5,
 *  Parcel) emit both files with the application. */
export function defaultModuleUrl(simd: boolean): URL {
  return simd ? new URL('../build/enkf.wasm', import.meta.url) : new URL('../build/enkf-scalar.wasm', import.meta.url);
}

const HOW_TO_FIX = 'host build/*.wasm next to the package, pass `source` (URL, bytes or a compiled module), or import enkf-wasm/inline';

// Compiled modules, one per source: URLs and paths by href, bytes by the object that holds them.
// Instances are never cached: every loadModule gets its own memory.
const compiledByUrl = new Map<string, Promise<WebAssembly.Module>>();
const compiledByBytes = new WeakMap<object, Promise<WebAssembly.Module>>();

// Caches `make()` under `key`; a failed compile is forgotten so that a later call can retry.
function cached<K>(cache: { get(k: K): Promise<WebAssembly.Module> | undefined; set(k: K, v: Promise<WebAssembly.Module>): unknown; delete(k: K): unknown },
  key: K, make: () => Promise<WebAssembly.Module>): Promise<WebAssembly.Module> {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

// Compiles bytes after checking the WebAssembly magic number \0asm, so a text or HTML answer
// gives a clear error instead of a CompileError about a "magic word".
function compileBytes(bytes: BufferSource, from: string): Promise<WebAssembly.Module> {
  const u8 = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (u8.length < 4 || u8[0] !== 0x00 || u8[1] !== 0x61 || u8[2] !== 0x73 || u8[3] !== 0x6d) {
    const text = new TextDecoder().decode(u8.subarray(0, 256)).trimStart().toLowerCase();
    const what = text.startsWith('<!doctype html') || text.startsWith('<html') ? 'an HTML page' : `${u8.length} bytes that do not start with \\0asm`;
    throw new TypeError(`${from} is not a WebAssembly module: got ${what}. To load enkf-wasm, ${HOW_TO_FIX}.`);
  }
  return WebAssembly.compile(bytes);
}

// A fetch Response, also from another realm or a fetch polyfill (no instanceof).
const isResponse = (x: unknown): x is Response =>
  typeof x === 'object' && x !== null && typeof (x as Response).arrayBuffer === 'function' && typeof (x as Response).ok === 'boolean';

async function compileResponse(source: Response | Promise<Response>, url: string): Promise<WebAssembly.Module> {
  let response: Response;
  try {
    response = await source;
  } catch (e) {
    throw new Error(`Could not fetch the enkf-wasm module from ${url}: ${(e as Error)?.message ?? e}. To load it, ${HOW_TO_FIX}.`);
  }
  if (!isResponse(response)) throw new TypeError(`loadModule: source must resolve to a Response; got ${response === null ? 'null' : typeof response}.`);
  const from = response.url || url;
  if (!response.ok) {
    throw new Error(`Could not fetch the enkf-wasm module from ${from}: HTTP ${response.status} ${response.statusText}. To load it, ${HOW_TO_FIX}.`);
  }
  // compileStreaming needs the application/wasm MIME type; other answers are read as bytes and checked.
  if ((response.headers.get('content-type') ?? '').split(';')[0].trim() === 'application/wasm') {
    const fallback = response.clone();
    try {
      return await WebAssembly.compileStreaming(response);
    } catch {
      return compileBytes(await fallback.arrayBuffer(), from);
    }
  }
  return compileBytes(await response.arrayBuffer(), from);
}

// In Node, the default module of an application bundle (esbuild --platform=node, …) is not next to
// the bundle; the installed package still has it when node_modules is deployed with the bundle.
function installedModuleUrl(url: URL): URL | undefined {
  const file = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  if (file !== 'enkf.wasm' && file !== 'enkf-scalar.wasm') return undefined;
  const { createRequire } = nodeBuiltin('module', 'Reading the module from a file');
  const { pathToFileURL } = nodeBuiltin('url', 'Reading the module from a file');
  try {
    return pathToFileURL(createRequire(url).resolve(`enkf-wasm/wasm/${file}`));
  } catch {
    return undefined;
  }
}

async function compileUrl(url: URL, isDefault: boolean): Promise<WebAssembly.Module> {
  if (hasNodeBuiltins && url.protocol === 'file:') {
    const { readFile } = nodeBuiltin('fs/promises', 'Reading the module from a file');
    let bytes: Uint8Array;
    try {
      bytes = await readFile(url);
    } catch (e) {
      const installed = isDefault && (e as { code?: string }).code === 'ENOENT' ? installedModuleUrl(url) : undefined;
      if (installed && installed.href !== url.href) return compileUrl(installed, false);
      throw new Error(`Could not read the enkf-wasm module ${url.href}: ${(e as Error).message}. To load it, ${HOW_TO_FIX}.`);
    }
    return compileBytes(bytes as Uint8Array<ArrayBuffer>, url.href);
  }
  let response: Promise<Response>;
  try {
    response = fetch(url);
  } catch (e) {
    response = Promise.reject(e);
  }
  return compileResponse(response, url.href);
}

// A string is a URL when it has a scheme; otherwise a path (Node) or a URL relative to the page.
async function resolveUrl(source: string): Promise<URL> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return new URL(source);
  if (hasNodeBuiltins) return nodeBuiltin('url', 'A file path source').pathToFileURL(source);
  return new URL(source, globalThis.location?.href);
}

// The compiled module for `source`, compiled once per source.
async function compile(source: WasmSource, isDefault = false): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    return cached(compiledByBytes, source, () => compileBytes(source as BufferSource, 'the given bytes'));
  }
  if (typeof source === 'string' || source instanceof URL) {
    const url = source instanceof URL ? source : await resolveUrl(source);
    return cached(compiledByUrl, url.href, () => compileUrl(url, isDefault));
  }
  if (isResponse(source) || typeof (source as Promise<Response>)?.then === 'function') {
    return compileResponse(source as Response | Promise<Response>, 'the given Response');
  }
  throw new TypeError('loadModule: source must be a URL, a path or URL string, an ArrayBuffer or typed array of the bytes, ' +
    `a WebAssembly.Module, or a Response; got ${source === null ? 'null' : typeof source}.`);
}

// Decodes an AssemblyScript string (UTF-16, byte length stored at ptr − 4); pointers are unsigned.
function readString(memory: WebAssembly.Memory, ptr: number): string {
  ptr >>>= 0;
  if (!ptr) return '';
  const bytes = new Uint32Array(memory.buffer)[(ptr - 4) >>> 2];
  const units = new Uint16Array(memory.buffer, ptr, bytes >>> 1);
  let s = '';
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.subarray(i, i + 4096));
  return s;
}

// Exports every build has had from the start; a module without them is not enkf-wasm.
const CORE_EXPORTS = ['memory', 'alloc', 'free', 'memoryBytes', 'simdEnabled'];

// Rejects a module that is not an enkf-wasm build before instantiating it.
function checkModule(module: WebAssembly.Module, from: string): void {
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`);
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = CORE_EXPORTS.filter((name) => !exports.has(name));
  const foreign = imports.filter((name) => name !== 'env.abort');
  if (missing.length || foreign.length) {
    const got = [missing.length ? `it lacks the exports ${missing.join(', ')}` : '', foreign.length ? `it imports ${foreign.join(', ')}` : '']
      .filter(Boolean).join(' and ');
    throw new TypeError(`${from} is not an enkf-wasm module: ${got} (enkf-wasm exports memory, alloc, free, ` +
      `simdEnabled and the kernels, and imports only env.abort). To load enkf-wasm, ${HOW_TO_FIX}.`);
  }
}

const describeSource = (s: WasmSource): string =>
  typeof s === 'string' ? s : s instanceof URL ? s.href : s instanceof WebAssembly.Module ? 'the given WebAssembly.Module'
    : s instanceof ArrayBuffer || ArrayBuffer.isView(s) ? 'the given bytes' : 'the given Response';

/** Instantiates enkf.wasm (SIMD when the host has it, else the scalar build). Each call returns a
 *  new instance with its own memory; the compiled module is shared per source. */
export async function loadModule(options: LoadOptions = {}): Promise<EnkfModule> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`loadModule(options) expects nothing or an object { simd?, source? }; got ${options === null ? 'null' : typeof options}.`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'simd' && key !== 'source') throw new TypeError(`loadModule: unknown option '${key}'. Known options: simd, source.`);
  }
  const wantSimd = options.simd ?? 'auto';
  if (wantSimd !== 'auto' && typeof wantSimd !== 'boolean') {
    throw new TypeError(`options.simd must be true, false or 'auto'; got ${String(wantSimd)}.`);
  }
  const simd = wantSimd === 'auto' ? hostHasSimd() : wantSimd;
  if (simd && !hostHasSimd()) {
    throw new Error('options.simd is true but this host does not support WebAssembly SIMD. Use simd: \'auto\'.');
  }
  if (options.source === null) {
    throw new TypeError('loadModule: options.source is null; pass a URL, path, bytes, WebAssembly.Module or Response, or leave it out.');
  }
  const source = options.source ?? (inlined ? (simd ? inlined.simd : inlined.scalar) : defaultModuleUrl(simd));
  const module = await compile(source, options.source === undefined);
  checkModule(module, describeSource(source));
  let memory: WebAssembly.Memory | undefined;
  const imports = {
    env: {
      abort(msg: number, file: number, line: number, column: number): never {
        const m = memory!;
        throw new KernelError(readString(m, msg), readString(m, file), line, column);
      },
    },
  };
  const result = await instantiate<RawExports & Record<string, unknown>>(module, imports);
  const exports = result.exports as unknown as RawExports;
  memory = exports.memory;
  return { exports, memory, simd: exports.simdEnabled() === 1, compiled: module };
}

let chosenDefault: EnkfModule | undefined;

/** Sets the module that every call without a `module` option runs on (`minimize`, `createAskTell`,
 *  `fit`, `loadModel`); `undefined` restores the default, where each such call loads its own
 *  instance (the compiled module is still shared). */
export function setDefaultModule(module: EnkfModule | undefined): void {
  const m = module as Partial<EnkfModule> | null | undefined;
  if (m !== undefined && (m === null || typeof m !== 'object' || typeof m.exports?.alloc !== 'function' || !(m.memory instanceof WebAssembly.Memory))) {
    throw new TypeError(`setDefaultModule expects a module from \`await loadModule()\`, or undefined to clear it; got ${m === null ? 'null' : typeof m}.`);
  }
  chosenDefault = module;
}

/** The module a call without a `module` option runs on: the one given to setDefaultModule, else a
 *  new instance from loadModule(). */
export function defaultModule(): Promise<EnkfModule> {
  return chosenDefault ? Promise.resolve(chosenDefault) : loadModule();
}
