// The WebAssembly boundary: the one adapter that compiles (once per source) and instantiates the
// module (through @assemblyscript/loader). The raw exports it returns are typed in abi.ts.
import { instantiate } from '@assemblyscript/loader';
import { KernelError } from './errors.js';
import { hasNodeBuiltins, nodeBuiltin } from './platform.js';
import type { RawExports } from './abi.js';

export type { RawExports } from './abi.js';

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
