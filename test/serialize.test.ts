import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FormatError } from '../bindings/errors.js';
import { mlp } from '../bindings/nn/mlp.js';
import { crc32, decodeModel, encodeModel, loadModel, modelToBlob, saveModel, FORMAT_VERSION, ModelFileError } from '../bindings/nn/serialize.js';

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

/** The bytes with their trailing CRC-32 recomputed: an edited file that is intact as far as the checksum goes. */
function reseal(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

/** The file with its JSON header replaced by edit(header) (or by `edit`'s raw text), sections
 *  moved to the new alignment and the checksum recomputed. A string is taken as the header's raw text. */
function editHeader(bytes: Uint8Array, edit: ((h: any) => unknown) | string): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  const edited = typeof edit === 'string' ? edit : edit(header);
  const text = typeof edited === 'string' ? edited : JSON.stringify(edited);
  const json = new TextEncoder().encode(text);
  const data = bytes.subarray((16 + hlen + 7) & ~7, bytes.length - 4);
  const start = (16 + json.length + 7) & ~7;
  const out = new Uint8Array(start + data.length + 4);
  out.set(bytes.subarray(0, 12));
  new DataView(out.buffer).setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(data, start);
  return reseal(out);
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
  // An intact file (checksum recomputed) of a newer or an impossible version.
  const future = bytes.slice();
  new DataView(future.buffer).setUint32(8, FORMAT_VERSION + 1, true);
  expectFormatError(() => decodeModel(reseal(future)), new RegExp(`format version ${FORMAT_VERSION + 1}; this enkf-wasm reads versions 1 to ${FORMAT_VERSION}\\. Upgrade`));
  const zero = bytes.slice();
  new DataView(zero.buffer).setUint32(8, 0, true);
  expectFormatError(() => decodeModel(reseal(zero)), /format version 0; .*not written by enkf-wasm/);
  expectFormatError(() => decodeModel(new TextEncoder().encode('{"not":"a model"}')), /Not an enkf-wasm model/);
  for (const cut of [5, 19, 40, bytes.length - 100, bytes.length - 1]) {
    expectFormatError(() => decodeModel(bytes.subarray(0, cut)), /truncated|Not an enkf-wasm model|corrupted/);
  }
  expectFormatError(() => decodeModel(bytes.subarray(0, bytes.length - 100)), new RegExp(`truncated: it needs ${bytes.length} bytes, got ${bytes.length - 100}`));
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

// A training state shaped like fit()'s (state version 2, NLB) for a model of n parameters.
function fitModel() {
  const model = mlp([5, 7, 3], { activation: 'relu', seed: 42 });
  const n = model.params.length;
  model.trainingState = {
    kind: 'enkf-wasm/fit', version: 2, optimizer: 'nlb', optimizerOptions: { ensembleSize: 4, sigma: 0.01, seed: 3 },
    optimizerState: { kind: 'nlb', theta: Float64Array.from({ length: n }, (_, i) => Math.cos(i)), iteration: 6, draws: 6, alpha: 0.5, sigma: 0.01 },
    seed: 3, batchSize: 10, rows: 40, iteration: 6, forwardPasses: 30, elapsedMs: 12.5, epochLossSum: 1.25, epochIterations: 2,
    early: { best: Infinity, wait: 0, bestIteration: -1, bestParams: null }, averaging: null, exactLastLayer: null,
    average: Float64Array.from({ length: n }, (_, i) => i),
  };
  return model;
}

test('a corrupted version field is reported as a bad checksum, not as a newer version', () => {
  const bytes = encodeModel(sampleModel());
  for (const bit of [0, 3, 7, 12, 20, 31]) {
    const bad = bytes.slice();
    bad[8 + (bit >> 3)] ^= 1 << (bit & 7);
    try {
      decodeModel(bad);
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.instance(e, FormatError);
      assert.match((e as Error).message, /checksum does not match/);
      assert.not.match((e as Error).message, /Upgrade|format version/);
    }
  }
});

test('every single-bit flip of a saved file is rejected with a FormatError', () => {
  const bytes = encodeModel(fitModel());
  let rejected = 0;
  for (let at = 0; at < bytes.length; at++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = bytes.slice();
      bad[at] ^= 1 << bit;
      try {
        decodeModel(bad);
      } catch (e) {
        if (e instanceof FormatError) rejected++;
        else throw e;
      }
    }
  }
  assert.is(rejected, bytes.length * 8);
});

test('a fit-shaped training state round-trips and passes the schema', () => {
  const model = fitModel();
  const back = decodeModel(encodeModel(model));
  const st = back.trainingState as any;
  assert.equal(Array.from(st.optimizerState.theta), Array.from((model.trainingState as any).optimizerState.theta));
  assert.equal(Array.from(st.average), Array.from((model.trainingState as any).average));
  assert.is(st.early.best, Infinity);
});

test('intact files with a malformed header or training state: FormatError naming the field', () => {
  const user = encodeModel(sampleModel());
  const fitted = encodeModel(fitModel());
  const deepText = (h: any) => JSON.stringify({ ...h, training: '@' }).replace('"@"', '['.repeat(100000) + '0' + ']'.repeat(100000));
  const cases: [Uint8Array, ((h: any) => unknown) | string, RegExp][] = [
    [user, 'null', /header must be an object/],
    [user, '[1,2]', /header must be an object/],
    [user, (h) => deepText(h), /nested at most 32 levels/],
    [user, (h) => ({ ...h, extra: 1 }), /header\.extra must be absent/],
    [user, (h) => ({ ...h, sections: null }), /header\.sections must be a non-empty array/],
    [user, (h) => ({ ...h, sections: [{ ...h.sections[0], dtype: 'f32' }, ...h.sections.slice(1)] }), /sections\[0\]\.dtype must be one of "f64"/],
    [user, (h) => ({ ...h, sections: [h.sections[0], { ...h.sections[1], length: 1e9 }, ...h.sections.slice(2)] }), /sections\[1\] must be inside the file/],
    [user, (h) => ({ ...h, params: String(h.params) }), /header\.params must be an integer/],
    [user, (h) => ({ ...h, architecture: null }), /header\.architecture must be an object/],
    [user, (h) => ({ ...h, architecture: { ...h.architecture, seed: -1 } }), /architecture\.seed must be an integer in \[0, 4294967295\]; got -1/],
    [user, (h) => ({ ...h, architecture: { ...h.architecture, layers: [5, 7, '3'] } }), /architecture\.layers must be/],
    [user, (h) => ({ ...h, architecture: { ...h.architecture, activaton: 'tanh' } }), /architecture\.activaton must be absent/],
    [user, (h) => ({ ...h, training: { ...h.training, counts: { $section: 1, extra: 2 } } }), /header\.training\.counts must be \{"\$section": …\} alone/],
    [user, (h) => ({ ...h, training: { ...h.training, counts: { $section: 99 } } }), /training\.counts\.\$section must be a section index/],
    [fitted, (h) => ({ ...h, training: { ...h.training, iteration: -1 } }), /trainingState\.iteration must be an integer ≥ 0; got -1/],
    [fitted, (h) => ({ ...h, training: { ...h.training, iteration: '6' } }), /trainingState\.iteration must be an integer ≥ 0; got "6"/],
    [fitted, (h) => ({ ...h, training: { ...h.training, iteration: 2.5 } }), /trainingState\.iteration must be an integer/],
    [fitted, (h) => ({ ...h, training: { ...h.training, rows: 0 } }), /trainingState\.rows must be an integer ≥ 1/],
    [fitted, (h) => ({ ...h, training: { ...h.training, version: 7 } }), /trainingState\.version must be one of 1, 2/],
    [fitted, (h) => ({ ...h, training: { ...h.training, optimizerState: null } }), /trainingState\.optimizerState must be an object/],
    [fitted, (h) => ({ ...h, training: { ...h.training, optimizerState: { ...h.training.optimizerState, draws: -3 } } }), /optimizerState\.draws must be an integer in \[0, 4294967295\]/],
    [fitted, (h) => ({ ...h, training: { ...h.training, optimizerState: { ...h.training.optimizerState, kind: 'eki' } } }), /optimizerState\.kind must be one of "nlb"/],
    [fitted, (h) => ({ ...h, training: { ...h.training, optimizerState: { ...h.training.optimizerState, bogus: 1 } } }), /optimizerState\.bogus must be absent/],
    [fitted, (h) => ({ ...h, training: { ...h.training, optimizerState: { ...h.training.optimizerState, sigma: { $number: 'NaN' } } } }), /optimizerState\.sigma must be a finite number/],
    // θ_t pointing at the average section: a Float64Array, but of the wrong length once sliced.
    [fitted, (h) => ({ ...h, sections: h.sections.map((s: any, i: number) => (i === 2 ? { ...s, length: s.length - 1 } : s)) }), /must be a Float64Array of the model's 66 parameters; got Float64Array\(65\)/],
    [fitted, (h) => ({ ...h, training: { ...h.training, average: [1, 2, 3] } }), /trainingState\.average must be a Float64Array of the model's 66 parameters; got \[1,2,3\]/],
    [fitted, (h) => ({ ...h, training: { ...h.training, early: { ...h.training.early, wait: null } } }), /trainingState\.early\.wait must be an integer/],
  ];
  for (const [bytes, edit, pattern] of cases) {
    const edited = editHeader(bytes, edit);
    try {
      decodeModel(edited);
      assert.unreachable(`accepted: ${pattern}`);
    } catch (e) {
      if (!(e instanceof FormatError)) assert.unreachable(`${pattern}: got ${(e as Error).name}: ${(e as Error).message}`);
      assert.match((e as Error).message, pattern);
    }
  }
  // The unedited files, resealed through the same path, still decode.
  assert.ok(decodeModel(editHeader(fitted, (h) => h)).trainingState);
  assert.ok(decodeModel(editHeader(user, (h) => h)).trainingState);
});

test('saveModel refuses a cyclic training state with a TypeError naming it', async () => {
  const model = sampleModel();
  const loop: any = { a: 1 };
  loop.self = loop;
  model.trainingState = { loop };
  assert.throws(() => encodeModel(model), (e: Error) => e instanceof TypeError && /trainingState\.loop\.self.*is it cyclic/.test(e.message));
});

test('two saves to one path in the same millisecond both succeed; the file is one of the two models', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'enkf-serialize-'));
  const now = Date.now;
  try {
    const path = join(dir, 'model.enkf');
    const a = mlp([5, 7, 3], { seed: 1 });
    const b = mlp([5, 7, 3], { seed: 2 });
    const t = now();
    Date.now = () => t; // the same millisecond for both, however slow the machine
    const results = await Promise.allSettled([saveModel(a, path), saveModel(b, path), saveModel(a, path), saveModel(b, path)]);
    Date.now = now;
    assert.equal(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    const saved = Array.from((await loadModel(path)).params);
    assert.ok([a, b].some((m) => Array.from(m.params).every((v, i) => Object.is(v, saved[i]))), 'the file is one of the two models');
    assert.equal(await readdir(dir), ['model.enkf'], 'no temporary file is left behind');
  } finally {
    Date.now = now;
    await rm(dir, { recursive: true, force: true });
  }
});

test('save/load failures are ModelFileErrors naming the caller\'s path and what to do', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'enkf-serialize-'));
  try {
    const expectFileError = async (p: Promise<unknown>, path: string, code: string, pattern: RegExp) => {
      try {
        await p;
        assert.unreachable('should have thrown');
      } catch (e) {
        assert.instance(e, ModelFileError);
        const err = e as ModelFileError;
        assert.is(err.path, path);
        assert.is(err.code, code);
        assert.is((err.cause as { code?: string }).code, code);
        assert.ok(err.message.includes(path), err.message);
        assert.not.match(err.message, /\.tmp/);
        assert.match(err.message, pattern);
      }
    };
    const model = sampleModel();
    const missing = join(dir, 'no-such-dir', 'model.enkf');
    await expectFileError(saveModel(model, missing), missing, 'ENOENT', /directory .*no-such-dir does not exist; create it/);
    const file = join(dir, 'plain');
    await writeFile(file, 'x');
    const under = join(file, 'model.enkf');
    await expectFileError(saveModel(model, under), under, 'ENOTDIR', /is a file, not a directory/);
    const asDir = join(dir, 'taken');
    await mkdir(asDir);
    await writeFile(join(asDir, 'keep'), 'x');
    await expectFileError(saveModel(model, asDir), asDir, 'EISDIR', /is a directory; give a file path/);
    await expectFileError(loadModel(join(dir, 'absent.enkf')), join(dir, 'absent.enkf'), 'ENOENT', /no such file/);
    assert.equal((await readdir(dir)).sort(), ['plain', 'taken']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
