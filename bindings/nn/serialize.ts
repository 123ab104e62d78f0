// Saved models: a versioned binary container holding a JSON header (format version, architecture,
// the training state of the last fit: optimizer, its state, RNG counters) and the binary arrays
// (θ as f64, and any typed array found in the training state).
//
// Layout (little-endian):
//   0   8 bytes  magic "ENKF-MLP"
//   8   u32      format version
//   12  u32      H = byte length of the UTF-8 JSON header
//   16  H bytes  header; zero padding up to a multiple of 8
//   …   sections, each 8-byte aligned, at the offsets the header lists (relative to the first section)
//   end u32      CRC-32 (IEEE) of every byte before it
// Typed arrays inside the training state are stored as sections and referenced as {"$section": i};
// non-finite numbers as {"$number": "Infinity" | "-Infinity" | "NaN"}, so the header stays JSON.
// Versions: 1 stored every typed array of the training state as its own section; 2 stores a state
// array that holds exactly θ's bits as {"$section": 0} (θ is usually also the optimizer's iterate,
// the iterate average or the best parameters), and reads it back as a copy of θ; 3 adds sequential()
// models (format "enkf-wasm/sequential", the architecture as JSON layer configs; mlp() files stay
// version 2). This build reads all three.
import { FormatError, describe } from '../errors.js';
import { MLP, type Activation, type InitScheme } from './mlp.js';
import { Sequential, isSequential } from './sequential.js';
import type { Model } from './model.js';
import { checkDepth, checkHeader, checkTrainingState, headerError, MAX_HEADER_DEPTH } from './header-schema.js';
import { defaultModule, type EnkfModule } from '../wasm.js';
import { nodeBuiltin } from '../platform.js';

// The directory part of a path (no node:path: this module also runs in browsers).
function dirname(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '.' : i === 0 ? path[0] : path.slice(0, i);
}

/** The newest format version this build writes (sequential() models); it reads this one and every earlier one. */
export const FORMAT_VERSION = 3;
/** mlp() models are still written as version 2 (nothing in their files changed), so earlier
 *  releases keep reading them; sequential() models need version 3. */
const MLP_FORMAT_VERSION = 2;
const OLDEST_VERSION = 1;
const MAGIC = 'ENKF-MLP';

type TypedArray = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array | Uint16Array | Int16Array | Int8Array;
const DTYPES = {
  f64: Float64Array, f32: Float32Array, i32: Int32Array, u32: Uint32Array,
  u16: Uint16Array, i16: Int16Array, u8: Uint8Array, i8: Int8Array,
} as const;
type DTypeName = keyof typeof DTYPES;

interface SectionInfo {
  dtype: DTypeName;
  length: number;
  offset: number;
}

interface Header {
  format: 'enkf-wasm/mlp' | 'enkf-wasm/sequential';
  version: number;
  architecture: Record<string, unknown> & { seed: number; loss: 'softmax-cross-entropy'; layout: string };
  params: number;
  training: unknown;
  sections: SectionInfo[];
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, reflected 0xEDB88320) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function dtypeOf(a: TypedArray): DTypeName {
  for (const [name, ctor] of Object.entries(DTYPES)) if (a instanceof ctor) return name as DTypeName;
  throw new TypeError(`Cannot save a ${a.constructor.name} in a model's training state.`);
}

/** True when `a` is a Float64Array with exactly the bits of `params`. */
function sameBits(a: TypedArray, params: Float64Array): boolean {
  if (!(a instanceof Float64Array) || a.length !== params.length) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

// Replaces typed arrays by section references (section 0, θ, for a copy of θ's bits) and
// non-finite numbers by tagged strings.
function encodeValue(v: unknown, arrays: TypedArray[], path: string, depth = 0): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : { $number: String(v) };
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v === undefined) return null;
  // The header holds the state one level down; a reader refuses anything nested deeper.
  if (depth > MAX_HEADER_DEPTH - 2) {
    throw new TypeError(`Cannot save ${path}: the training state nests deeper than ${MAX_HEADER_DEPTH - 2} levels (is it cyclic?).`);
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    if (sameBits(v as TypedArray, arrays[0] as Float64Array)) return { $section: 0 };
    arrays.push(v as TypedArray);
    return { $section: arrays.length - 1 };
  }
  if (Array.isArray(v)) return v.map((x, i) => encodeValue(x, arrays, `${path}[${i}]`, depth + 1));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === '$section' || k === '$number') throw new TypeError(`Training state key ${path}.${k} is reserved by the saved format.`);
      out[k] = encodeValue(x, arrays, `${path}.${k}`, depth + 1);
    }
    return out;
  }
  throw new TypeError(`Cannot save ${path} (${describe(v)}) in a model's training state: use numbers, strings, booleans, arrays, plain objects or typed arrays.`);
}

function decodeValue(v: unknown, arrays: TypedArray[], version: number, path: string): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x, i) => decodeValue(x, arrays, version, `${path}[${i}]`));
  const o = v as Record<string, unknown>;
  const tag = '$section' in o ? '$section' : '$number' in o ? '$number' : undefined;
  if (tag && Object.keys(o).length !== 1) throw headerError(path, `{"${tag}": …} alone`, o);
  if ('$section' in o) {
    const i = o.$section;
    const first = version >= 2 ? 0 : 1;
    if (typeof i !== 'number' || !Number.isInteger(i) || i < first || i >= arrays.length) {
      throw headerError(`${path}.$section`, `a section index in [${first}, ${arrays.length - 1}]`, i);
    }
    // A copy of θ: the training state must not change when the model's parameters do.
    return i === 0 ? arrays[0].slice() : arrays[i];
  }
  if ('$number' in o) {
    const s = o.$number;
    if (s !== 'Infinity' && s !== '-Infinity' && s !== 'NaN') throw headerError(`${path}.$number`, '"Infinity", "-Infinity" or "NaN"', s);
    return Number(s);
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = decodeValue(x, arrays, version, `${path}.${k}`);
  return out;
}

const align8 = (n: number) => (n + 7) & ~7;

/** The saved form of `model` (θ, architecture and training state) as bytes. */
export function encodeModel(model: Model): Uint8Array<ArrayBuffer> {
  if (model === null || typeof model !== 'object' || !(model.params instanceof Float64Array) || !Array.isArray(model.layers)) {
    throw new TypeError(`Saving needs a model from mlp(), sequential() or loadModel() (with Float64Array params and layers); got ${describe(model)}.`);
  }
  const arrays: TypedArray[] = [model.params];
  const training = encodeValue(model.trainingState ?? null, arrays, 'trainingState');
  const sections: SectionInfo[] = [];
  let at = 0;
  for (const a of arrays) {
    sections.push({ dtype: dtypeOf(a), length: a.length, offset: at });
    at = align8(at + a.byteLength);
  }
  const seq = isSequential(model);
  const version = seq ? FORMAT_VERSION : MLP_FORMAT_VERSION;
  const header: Header = {
    format: seq ? 'enkf-wasm/sequential' : 'enkf-wasm/mlp',
    version,
    architecture: seq
      ? {
        ...model.architecture(), seed: model.seed, loss: 'softmax-cross-entropy',
        layout: 'per dense/conv2d layer: W (fan-in × fan-out, row-major; conv2d [kh, kw, c_in, c_out]) then b; images channels-last',
      }
      : {
        layers: [...model.layers], activation: model.activation, init: model.init, seed: model.seed,
        loss: 'softmax-cross-entropy', layout: 'per layer: W (fan-in × fan-out, row-major) then b',
      },
    params: model.params.length,
    training,
    sections,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align8(16 + json.length);
  const total = dataStart + at + 4;
  const bytes = new Uint8Array(total);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < 8; i++) bytes[i] = MAGIC.charCodeAt(i);
  dv.setUint32(8, version, true);
  dv.setUint32(12, json.length, true);
  bytes.set(json, 16);
  arrays.forEach((a, i) => {
    const src = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    // Typed arrays are host-endian; the format is little-endian (every current host is).
    bytes.set(src, dataStart + sections[i].offset);
  });
  dv.setUint32(total - 4, crc32(bytes.subarray(0, total - 4)), true);
  return bytes;
}

function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`A saved model must be an ArrayBuffer, a Uint8Array, a Blob or a file path; got ${describe(data)}.`);
}

/** The byte length the header and section table of a damaged file ask for, if they can be read. */
function declaredLength(bytes: Uint8Array, dv: DataView): number | undefined {
  const hlen = dv.getUint32(12, true);
  if (16 + hlen + 4 > bytes.length) return 16 + hlen + 4;
  try {
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen))) as Header;
    let need = 0;
    for (const s of h.sections) need = Math.max(need, align8(16 + hlen) + s.offset + s.length * DTYPES[s.dtype].BYTES_PER_ELEMENT);
    // Sections end 8-byte aligned; the CRC-32 follows.
    return Number.isFinite(need) ? align8(need) + 4 : undefined;
  } catch {
    return undefined;
  }
}

/** A model from its saved bytes. Throws FormatError for anything that is not a complete, intact
 *  file of a known version. The checksum is verified before any other field is believed. */
export function decodeModel(data: ArrayBuffer | ArrayBufferView, options: { module?: EnkfModule } = {}): Model {
  const bytes = toBytes(data);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (bytes.length < 8 || magic !== MAGIC) {
    throw new FormatError(`Not an enkf-wasm model: expected the bytes to start with "${MAGIC}", got ${JSON.stringify(magic)}. Pass a file written by saveModel/encodeModel.`);
  }
  if (bytes.length < 20) throw new FormatError(`The model file is truncated: ${bytes.length} bytes, too short for a header.`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = dv.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored) {
    const need = declaredLength(bytes, dv);
    if (need !== undefined && need > bytes.length) {
      throw new FormatError(`The model file is truncated: it needs ${need} bytes, got ${bytes.length}. The save may have been interrupted; use an intact copy.`);
    }
    throw new FormatError('The model file is corrupted: its CRC-32 checksum does not match its contents. Use an intact copy.');
  }
  const version = dv.getUint32(8, true);
  if (version < OLDEST_VERSION || version > FORMAT_VERSION) {
    throw new FormatError(`The model file has format version ${version}; this enkf-wasm reads versions ${OLDEST_VERSION} to ${FORMAT_VERSION}. ` +
      (version > FORMAT_VERSION ? 'Upgrade enkf-wasm to read it.' : 'The file is corrupted or was not written by enkf-wasm.'));
  }
  const hlen = dv.getUint32(12, true);
  if (16 + hlen + 4 > bytes.length) {
    throw new FormatError(`The model file's header length ${hlen} runs past the end of the ${bytes.length}-byte file; the file is corrupted.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + hlen)));
  } catch {
    throw new FormatError('The model file header is not valid JSON; the file is corrupted.');
  }
  checkDepth(raw);
  const described = checkHeader(raw, version);
  const header = raw as Header;
  const dataStart = align8(16 + hlen);
  const arrays = header.sections.map((s, i) => {
    const ctor = DTYPES[s.dtype];
    const start = dataStart + s.offset;
    const end = start + s.length * ctor.BYTES_PER_ELEMENT;
    if (end > bytes.length - 4) throw headerError(`header.sections[${i}]`, `inside the file's ${bytes.length - 4 - dataStart} data bytes`, s);
    // Copy into a fresh, aligned buffer: the file's bytes may sit at any offset.
    return new ctor(bytes.slice(start, end).buffer) as TypedArray;
  });
  const arch = header.architecture;
  let model: Model;
  try {
    const params = arrays[0] as Float64Array;
    model = described.kind === 'sequential'
      ? new Sequential(described.architecture.layers, {
        inputShape: described.architecture.inputShape, init: described.architecture.init, seed: arch.seed, params, module: options.module,
      })
      : new MLP(described.layers, { activation: arch.activation as Activation, init: arch.init as InitScheme, seed: arch.seed, params, module: options.module });
  } catch (e) {
    throw new FormatError(`The model file holds invalid parameters: ${(e as Error).message}`);
  }
  const training = decodeValue(header.training, arrays, version, 'header.training') ?? undefined;
  checkTrainingState(training, model.params.length);
  model.trainingState = training;
  return model;
}

/** The saved model as a Blob (browsers: download it, store it in IndexedDB, …). */
export function modelToBlob(model: Model): Blob {
  return new Blob([encodeModel(model)], { type: 'application/octet-stream' });
}

/** A model file could not be written or read by the file system. `path` is the caller's path,
 *  `code` the system error code (ENOENT, EACCES, …), `cause` the original error. */
export class ModelFileError extends Error {
  readonly path: string;
  readonly code: string | undefined;
  constructor(message: string, path: string, cause: unknown) {
    super(message, { cause });
    this.name = 'ModelFileError';
    this.path = path;
    this.code = (cause as { code?: string } | undefined)?.code;
  }
}

function fileError(op: 'save' | 'load', path: string, cause: unknown): ModelFileError {
  const code = (cause as { code?: string } | undefined)?.code;
  const dir = dirname(path);
  const why = op === 'save'
    ? code === 'ENOENT' ? `the directory ${dir} does not exist; create it first or choose another path`
      : code === 'EACCES' || code === 'EPERM' ? `no permission to write in ${dir}; choose a writable directory`
        : code === 'EROFS' ? `${dir} is on a read-only file system; choose a writable directory`
          : code === 'EISDIR' ? `${path} is a directory; give a file path such as ${path}/model.enkf`
            : code === 'ENOTDIR' ? `a part of ${dir} is a file, not a directory`
              : code === 'ENOSPC' || code === 'EDQUOT' ? 'the disk is full; free space or choose another disk'
                : `${code ?? (cause as Error)?.message ?? String(cause)}; check the path and the disk`
    : code === 'ENOENT' ? 'there is no such file; check the path'
      : code === 'EACCES' || code === 'EPERM' ? 'no permission to read it'
        : code === 'EISDIR' ? 'it is a directory; give the path of a model file'
          : `${code ?? (cause as Error)?.message ?? String(cause)}; check the path`;
  return new ModelFileError(`Cannot ${op} the model ${op === 'save' ? 'to' : 'from'} ${path}: ${why}.` +
    (op === 'save' ? ' Any file already there is unchanged.' : ''), path, cause);
}

// Distinguishes the temporary files of saves running at the same time in one process.
let saveCounter = 0;

/** Writes the model to `path` (Node). The bytes go to a temporary file in the same directory that
 *  is flushed and then renamed over `path`, so a failed save never replaces a good file with a
 *  half-written one. File-system failures are ModelFileErrors naming `path`. */
export async function saveModel(model: Model, path: string): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`saveModel needs a file path; got ${describe(path)}. In browsers use modelToBlob(model) or encodeModel(model).`);
  }
  const bytes = encodeModel(model);
  const { open, rename, rm } = nodeBuiltin('fs/promises', 'saveModel(model, path)');
  // Unique per process (pid), per call (counter) and against stale files of a crashed run (random).
  const tmp = `${path}.${process.pid}.${(saveCounter++).toString(36)}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  let created = false;
  try {
    handle = await open(tmp, 'wx');
    created = true;
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    // Only this call's own temporary file, and only once it exists.
    if (created) await rm(tmp, { force: true }).catch(() => undefined);
    throw fileError('save', path, e);
  }
}

/** Reads a model from a file path (Node), a Blob, an ArrayBuffer or bytes, ready to predict and
 *  evaluate: it runs on `options.module`, else on the default module (setDefaultModule, else a new
 *  instance of loadModule()). */
export async function loadModel(source: string | Blob | ArrayBuffer | ArrayBufferView, options: { module?: EnkfModule } = {}): Promise<Model> {
  let bytes: ArrayBuffer | ArrayBufferView;
  if (typeof source === 'string') {
    const { readFile } = nodeBuiltin('fs/promises', 'loadModel(path)');
    try {
      bytes = await readFile(source);
    } catch (e) {
      throw fileError('load', source, e);
    }
  } else if (typeof Blob !== 'undefined' && source instanceof Blob) {
    bytes = await source.arrayBuffer();
  } else {
    bytes = source as ArrayBuffer | ArrayBufferView;
  }
  // Decoded (and checked) before a module is loaded for it.
  const model = decodeModel(bytes, options);
  model.module ??= await defaultModule();
  return model;
}
