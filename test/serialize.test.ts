import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FormatError } from '../bindings/errors.js';
import { mlp } from '../bindings/nn/mlp.js';
import { crc32, decodeModel, encodeModel, loadModel, modelToBlob, saveModel, FORMAT_VERSION } from '../bindings/nn/serialize.js';

function sampleModel() {
  const model = mlp([5, 7, 3], { activation: 'relu', seed: 42 });
  model.trainingState = {
    optimizer: 'nlb',
    iteration: 17,
    alpha: 0.125,
    best: Infinity,
    nested: { ensemble: Float64Array.from({ length: 12 }, (_, i) => Math.sin(i) * 1e-3), flags: [true, false], note: 'x' },
    counts: Int32Array.of(-1, 2, 3),
  };
  return model;
}

function expectFormatError(fn: () => unknown, pattern: RegExp) {
  try {
    fn();
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, FormatError);
    assert.match((e as Error).message, pattern);
  }
}

test('crc32 matches the IEEE check value', () => {
  // The standard check value of CRC-32/ISO-HDLC for "123456789".
  assert.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('encode → decode restores architecture, θ bit for bit and the training state', () => {
  const model = sampleModel();
  const back = decodeModel(encodeModel(model));
  assert.equal([...back.layers], [5, 7, 3]);
  assert.is(back.activation, 'relu');
  assert.is(back.init, 'he');
  assert.is(back.seed, 42);
  assert.equal(Array.from(back.params), Array.from(model.params));
  const st = back.trainingState as Record<string, any>;
  assert.is(st.iteration, 17);
  assert.is(st.alpha, 0.125);
  assert.is(st.best, Infinity);
  assert.instance(st.nested.ensemble, Float64Array);
  assert.equal(Array.from(st.nested.ensemble), Array.from((model.trainingState as any).nested.ensemble));
  assert.instance(st.counts, Int32Array);
  assert.equal(Array.from(st.counts), [-1, 2, 3]);
  assert.equal(st.nested.flags, [true, false]);
});

test('a file at an odd byte offset and a Blob decode too', async () => {
  const model = sampleModel();
  const bytes = encodeModel(model);
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  assert.equal(Array.from(decodeModel(shifted.subarray(3)).params), Array.from(model.params));
  const fromBlob = await loadModel(modelToBlob(model));
  assert.equal(Array.from(fromBlob.params), Array.from(model.params));
});

test('unknown versions, bad magic, truncation and corruption give FormatError', () => {
  const bytes = encodeModel(sampleModel());
  const future = bytes.slice();
  new DataView(future.buffer).setUint32(8, FORMAT_VERSION + 1, true);
  expectFormatError(() => decodeModel(future), new RegExp(`format version ${FORMAT_VERSION + 1}; this enkf-wasm reads versions 1 to ${FORMAT_VERSION}\\. Upgrade`));
  const zero = bytes.slice();
  new DataView(zero.buffer).setUint32(8, 0, true);
  expectFormatError(() => decodeModel(zero), /format version 0; .*not written by enkf-wasm/);
  expectFormatError(() => decodeModel(new TextEncoder().encode('{"not":"a model"}')), /Not an enkf-wasm model/);
  for (const cut of [5, 19, 40, bytes.length - 100, bytes.length - 1]) {
    expectFormatError(() => decodeModel(bytes.subarray(0, cut)), /truncated|Not an enkf-wasm model|corrupted/);
  }
  expectFormatError(() => decodeModel(bytes.subarray(0, bytes.length - 100)), /truncated/);
  // Flip one bit in θ, one in the header: the checksum catches both.
  for (const at of [bytes.length - 20, 30]) {
    const bad = bytes.slice();
    bad[at] ^= 0x10;
    expectFormatError(() => decodeModel(bad), /corrupted/);
  }
});

test('saveModel/loadModel round-trip through a file; a failed save leaves the good file and no temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'enkf-serialize-'));
  try {
    const path = join(dir, 'model.enkf');
    const model = sampleModel();
    await saveModel(model, path);
    const good = await readFile(path);
    const back = await loadModel(path);
    assert.equal(Array.from(back.params), Array.from(model.params));

    // Unsaveable state: fails while encoding, before anything touches the file.
    const broken = sampleModel();
    broken.trainingState = { callback: () => 1 };
    try {
      await saveModel(broken, path);
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.instance(e, TypeError);
      assert.match((e as Error).message, /trainingState\.callback/);
    }
    // The target is a directory: the write succeeds, the rename fails; the temp file is removed.
    const asDir = join(dir, 'taken');
    await mkdir(asDir);
    await writeFile(join(asDir, 'keep'), 'x');
    let failed = false;
    await saveModel(model, asDir).catch(() => { failed = true; });
    assert.ok(failed, 'saving over a directory fails');
    assert.equal((await readFile(path)).equals(good), true, 'the good file is unchanged');
    assert.equal((await readdir(dir)).sort(), ['model.enkf', 'taken'], 'no temporary file is left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
