// loadModule: one compile per source (URL, path, bytes), one instance and memory per call, and
// clear errors for a wrong argument, a module that is not enkf-wasm, or a server that answers
// with something else than the .wasm file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModule, defaultModuleUrl, hostHasSimd, Workspace } from '../bindings/internal.js';
import { expectRejection } from './helpers.js';

const wasmPath = fileURLToPath(defaultModuleUrl(false));
// Node's fetch compiles its own HTTP parser (a wasm module) the first time the global Response is
// touched; touch it now so that the counts below see only enkf-wasm's compiles.
void globalThis.Response;

/** Calls `fn` with WebAssembly.compile and compileStreaming counted; returns the count. */
async function countCompiles(fn: () => Promise<unknown>): Promise<number> {
  const { compile, compileStreaming } = WebAssembly;
  let calls = 0;
  WebAssembly.compile = (...a) => { calls++; return compile(...a); };
  WebAssembly.compileStreaming = (...a) => { calls++; return compileStreaming(...a); };
  try {
    await fn();
  } finally {
    WebAssembly.compile = compile;
    WebAssembly.compileStreaming = compileStreaming;
  }
  return calls;
}


test('the same bytes compile once; every load is a new instance with its own memory', async () => {
  const bytes = readFileSync(wasmPath);
  let a, b;
  const calls = await countCompiles(async () => {
    a = await loadModule({ source: bytes, simd: false });
    b = await loadModule({ source: bytes, simd: false });
  });
  assert.is(calls, 1);
  assert.ok(a!.compiled === b!.compiled, 'one WebAssembly.Module');
  assert.ok(a!.memory !== b!.memory, 'two memories');
  const wa = new Workspace(a!);
  const wb = new Workspace(b!);
  const x = wa.f64(4).set([1, 2, 3, 4]);
  const z = wb.f64(4);
  assert.is(x.ptr, z.ptr, 'the same offset in both instances');
  assert.equal(Array.from(z.view()), [0, 0, 0, 0], 'a write to one memory does not show in the other');
  wa.dispose();
  wb.dispose();
});

test('a path string or URL compiles once; the default source is shared by every load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'enkf-loader-'));
  try {
    const copy = join(dir, 'copy.wasm');
    copyFileSync(wasmPath, copy);
    let first, second;
    const calls = await countCompiles(async () => {
      first = await loadModule({ source: copy, simd: false });
      second = await loadModule({ source: new URL(`file://${copy}`), simd: false });
    });
    assert.is(calls, 1, 'the path and its file: URL are one source');
    assert.ok(first!.compiled === second!.compiled);
  } finally {
    rmSync(dir, { recursive: true });
  }
  let m1, m2;
  const calls = await countCompiles(async () => {
    m1 = await loadModule();
    m2 = await loadModule();
  });
  assert.ok(calls <= 1, `default source compiled ${calls} times`);
  assert.ok(m1!.compiled === m2!.compiled);
  assert.ok(m1!.memory !== m2!.memory);
  assert.is(m1!.simd, hostHasSimd());
});

test('a compiled WebAssembly.Module is used as it is', async () => {
  const compiled = (await loadModule({ simd: false })).compiled;
  let mod;
  const calls = await countCompiles(async () => { mod = await loadModule({ source: compiled, simd: false }); });
  assert.is(calls, 0);
  assert.ok(mod!.compiled === compiled);
  assert.is(mod!.simd, false);
});

test('a Response or a promise of one: streamed when served as application/wasm, checked otherwise', async () => {
  const bytes = readFileSync(wasmPath);
  const wasm = { 'content-type': 'application/wasm' };
  assert.is((await loadModule({ source: new Response(bytes, { headers: wasm }), simd: false })).simd, false);
  assert.is((await loadModule({ source: Promise.resolve(new Response(bytes)), simd: false })).simd, false);
  await expectRejection(() => loadModule({ source: new Response('<html><body>404</body></html>', { headers: { 'content-type': 'text/html' } }) }),
    TypeError, /the given Response is not a WebAssembly module: got an HTML page/);
  await expectRejection(() => loadModule({ source: Promise.resolve(new Response('gone', { status: 410, statusText: 'Gone' })) }),
    Error, /HTTP 410 Gone/);
});

test('bad options give a TypeError that says what loadModule takes', async () => {
  await expectRejection(() => loadModule(null as never), TypeError, /expects nothing or an object \{ simd\?, source\? \}; got null/);
  await expectRejection(() => loadModule('build/enkf.wasm' as never), TypeError, /got string/);
  await expectRejection(() => loadModule({ sauce: 'x' } as never), TypeError, /unknown option 'sauce'/);
  await expectRejection(() => loadModule({ source: null } as never), TypeError, /options\.source is null/);
  assert.is((await loadModule({ source: undefined, simd: false })).simd, false, 'source: undefined is the default source');
  await expectRejection(() => loadModule({ source: 42 } as never), TypeError, /source must be a URL, .*got number/);
  await expectRejection(() => loadModule({ simd: 'yes' } as never), TypeError, /simd must be true, false or 'auto'/);
});

test('another WebAssembly module is refused as "not an enkf-wasm module"', async () => {
  // tfjs's backend: a real module with other imports and exports
  const tfjs = readFileSync(fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm')));
  await expectRejection(() => loadModule({ source: tfjs, simd: false }), TypeError, /not an enkf-wasm module: it lacks the exports .*alloc/, /enkf-wasm\/inline/);
  // the smallest valid module: header only, no imports, no exports
  const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  await expectRejection(() => loadModule({ source: empty }), TypeError, /^the given bytes is not an enkf-wasm module: it lacks the exports memory, alloc, free, memoryBytes, simdEnabled/);
  // a module that imports something else than env.abort
  const importer = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: one type () → ()
    0x02, 0x0a, 0x01, 0x04, 0x77, 0x61, 0x73, 0x69, 0x01, 0x78, 0x00, 0x00]); // import section: func wasi.x of type 0
  assert.ok(WebAssembly.validate(importer));
  await expectRejection(() => loadModule({ source: importer }), TypeError, /not an enkf-wasm module: it lacks the exports memory, .* and it imports wasi\.x \(/);
  // bytes that are not WebAssembly at all
  await expectRejection(() => loadModule({ source: new TextEncoder().encode('{"not": "wasm"}') }), TypeError, /the given bytes is not a WebAssembly module: got 15 bytes that do not start with \\0asm/);
});

// A loopback server: /html answers 200 with a web page (a single-page app's fallback route),
// /missing 404, /ok.wasm the module (octet-stream: no streaming compile), /flaky 503 the first time.
async function withServer(fn: (origin: string) => Promise<void>): Promise<void> {
  const wasm = readFileSync(wasmPath);
  let flaky = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/flaky') res.writeHead(flaky++ ? 200 : 503).end(flaky > 1 ? wasm : undefined);
    else if (req.url === '/html') res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><body>app</body></html>');
    else if (req.url === '/ok.wasm') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(wasm);
    else res.writeHead(404, 'Not Found').end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  try {
    await fn(`http://127.0.0.1:${address.port}`);
  } finally {
    server.close();
  }
}

test('fetch failures name the URL: an HTML page, a 404, a refused connection; a wasm answer loads', async () => {
  await withServer(async (origin) => {
    await expectRejection(() => loadModule({ source: `${origin}/html`, simd: false }), TypeError,
      new RegExp(`${origin}/html is not a WebAssembly module: got an HTML page`), /host build\/\*\.wasm/, /source/, /enkf-wasm\/inline/);
    await expectRejection(() => loadModule({ source: `${origin}/missing`, simd: false }), Error,
      new RegExp(`from ${origin}/missing: HTTP 404 Not Found`));
    const mod = await loadModule({ source: `${origin}/ok.wasm`, simd: false });
    assert.is(mod.simd, false);
    // a failed source is not cached: once the server answers, the same URL loads
    await expectRejection(() => loadModule({ source: `${origin}/flaky`, simd: false }), Error, /HTTP 503/);
    assert.is((await loadModule({ source: `${origin}/flaky`, simd: false })).simd, false);
  });
  await expectRejection(() => loadModule({ source: 'http://127.0.0.1:9/enkf.wasm', simd: false }), Error,
    /Could not fetch the enkf-wasm module from http:\/\/127\.0\.0\.1:9\/enkf\.wasm/);
  await expectRejection(() => loadModule({ source: '/no/such/dir/enkf.wasm', simd: false }), Error,
    /Could not read the enkf-wasm module file:\/\/\/no\/such\/dir\/enkf\.wasm/);
});

test.run();
