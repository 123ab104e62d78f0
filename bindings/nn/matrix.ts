// Input normalization for the network API: every accepted form of a data matrix becomes one
// row-major Float32Array (what the forward kernels read), checked for shape and finiteness up front.
import { describe } from '../errors.js';

/** A data matrix: a flat typed array with its [rows, cols] shape, a flat typed array whose row
 *  count follows from the network's input size, or an array of rows. */
export type MatrixInput =
  | { data: Float32Array | Float64Array | ArrayLike<number>; shape: readonly [number, number] }
  | Float32Array | Float64Array
  | ArrayLike<ArrayLike<number>>;

/** Class ids, one per row. */
export type LabelInput = Int32Array | Uint8Array | Uint16Array | Uint32Array | ArrayLike<number>;

/** A validated matrix: rows × cols, row-major f32. */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

function checkFinite(name: string, data: Float32Array, cols: number): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new RangeError(`${name} has a non-finite value (${data[i]}) at row ${Math.floor(i / cols)}, column ${i % cols}. Remove or impute it before training.`);
    }
  }
}

/** Normalizes `x` to a row-major f32 matrix with `cols` columns (the network's input size). */
export function toMatrix(name: string, x: MatrixInput, cols: number): Matrix {
  let data: Float32Array;
  let rows: number;
  if (x instanceof Float32Array || x instanceof Float64Array) {
    if (x.length === 0 || x.length % cols !== 0) {
      throw new RangeError(`${name} is a flat ${x.constructor.name} of length ${x.length}, not a positive multiple of ${cols} (the network input size). Pass { data, shape: [rows, ${cols}] } or check the dataset.`);
    }
    rows = x.length / cols;
    data = x instanceof Float32Array ? x : Float32Array.from(x);
  } else if (x !== null && typeof x === 'object' && 'shape' in x && 'data' in x) {
    const shape = x.shape;
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((s) => Number.isInteger(s) && s > 0)) {
      throw new RangeError(`${name}.shape must be [rows, cols] with positive integers; got ${JSON.stringify(shape)}.`);
    }
    if (shape[1] !== cols) {
      throw new RangeError(`${name} has ${shape[1]} columns; expected ${cols} (network input size). Check the dataset shape.`);
    }
    const values = x.data as unknown;
    if (values === null || typeof values !== 'object' || typeof (values as ArrayLike<number>).length !== 'number') {
      throw new TypeError(`${name}.data must be a Float32Array, Float64Array or array of numbers; got ${describe(values)}.`);
    }
    if (x.data.length !== shape[0] * shape[1]) {
      throw new RangeError(`${name}.data has ${x.data.length} values; shape [${shape[0]}, ${shape[1]}] needs ${shape[0] * shape[1]}.`);
    }
    rows = shape[0];
    data = x.data instanceof Float32Array ? x.data : Float32Array.from(x.data);
  } else if (x !== null && typeof x === 'object' && typeof (x as ArrayLike<unknown>).length === 'number') {
    const list = x as ArrayLike<ArrayLike<number>>;
    rows = list.length;
    if (rows === 0) throw new RangeError(`${name} has no rows; pass at least one sample.`);
    data = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = list[r];
      if (row === null || typeof row !== 'object' || typeof row.length !== 'number') {
        throw new TypeError(`${name}[${r}] must be an array of ${cols} numbers; got ${describe(row)}.`);
      }
      if (row.length !== cols) {
        throw new RangeError(`${name}[${r}] has ${row.length} columns; expected ${cols} (network input size). Check the dataset shape.`);
      }
      for (let c = 0; c < cols; c++) {
        const v = row[c];
        if (typeof v !== 'number') throw new TypeError(`${name}[${r}][${c}] must be a number; got ${describe(v)}.`);
        data[r * cols + c] = v;
      }
    }
  } else {
    throw new TypeError(`${name} must be a Float32Array/Float64Array, { data, shape: [rows, cols] } or an array of rows; got ${describe(x)}.`);
  }
  checkFinite(name, data, cols);
  return { data, rows, cols };
}

/** Normalizes class ids: integers in [0, classes), one per row. */
export function toLabels(name: string, y: LabelInput, rows: number, classes: number): Int32Array {
  if (y === null || typeof y !== 'object' || typeof (y as ArrayLike<number>).length !== 'number') {
    throw new TypeError(`${name} must be an array of class ids (integers 0…${classes - 1}); got ${describe(y)}.`);
  }
  if (y.length !== rows) {
    throw new RangeError(`${name} has ${y.length} entries but the data has ${rows} rows; pass one class id per row.`);
  }
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = y[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= classes) {
      throw new RangeError(`${name}[${i}] = ${describe(v)} is not a class id in [0, ${classes - 1}] (the network has ${classes} outputs). Map labels to 0…${classes - 1} (not one-hot).`);
    }
    out[i] = v;
  }
  return out;
}
