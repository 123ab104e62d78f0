// `npm run demo`: builds the package when its outputs are missing or older than the sources, writes
// the MNIST digits the page trains on (examples/browser/generated/, git-ignored), and serves
// examples/browser/, dist/ and build/ on 127.0.0.1 until Ctrl-C. PORT picks the port (default: a free one).
// test/demo.test.ts imports prepareDemo() and serveDemo() and runs the same server in-process.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeDigits } from '../examples/browser/mnist-digits.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Where the digits file is written, relative to the package root (git-ignored). */
export const DIGITS_FILE = 'examples/browser/generated/digits.bin';
/** The only folders the server answers from. */
const SERVED = ['examples/browser/', 'dist/', 'build/'];
const PAGE = '/examples/browser/mnist.html';
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
};

/** Newest modification time of the files under `dir` (recursively), 0 when it is missing. */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Runs scripts/build.mjs when a module or bundle the page loads is missing or older than its sources. */
export function ensureBuilt() {
  const outputs = ['build/enkf.wasm', 'build/enkf-scalar.wasm', 'dist/index.js', 'dist/mnist.js'].map((f) => join(ROOT, f));
  const sources = Math.max(newest(join(ROOT, 'assembly')), newest(join(ROOT, 'bindings')));
  const stale = outputs.some((f) => !existsSync(f) || statSync(f).mtimeMs < sources);
  if (stale) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  return stale;
}

/** Writes the 8 000 / 2 000 split of mnistSplit(seed) as the page's digits file
 *  (the format is in examples/browser/mnist-digits.js). */
export async function writeDigits(seed = 0, file = join(ROOT, DIGITS_FILE)) {
  const { mnistSplit, MNIST_SIDE } = await import(pathToFileURL(join(ROOT, 'dist/mnist.js')).href);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, encodeDigits(await mnistSplit(seed), MNIST_SIDE));
  return file;
}

/** Builds if needed and writes the digits file when it is missing. */
export async function prepareDemo() {
  ensureBuilt();
  const file = join(ROOT, DIGITS_FILE);
  if (!existsSync(file)) await writeDigits(0, file);
}

/** Serves examples/browser/, dist/ and build/ of the package root on `host`:`port` (0 = a free port);
 *  `/` redirects to the MNIST page. Resolves when listening. */
export async function serveDemo({ port = 0, host = '127.0.0.1' } = {}) {
  const server = createServer(async (req, res) => {
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (path === '/') {
      res.writeHead(302, { location: PAGE }).end();
      return;
    }
    const file = normalize(join(ROOT, path));
    const relative = file.slice(ROOT.length).split(sep).join('/');
    if (!file.startsWith(ROOT) || !SERVED.some((d) => relative.startsWith(d))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`Not served: ${path} (only ${SERVED.join(', ')})\n`);
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`Not found: ${path}\n`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const origin = `http://${host}:${address.port}`;
  return { server, origin, url: `${origin}${PAGE}` };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = process.env.PORT === undefined ? 0 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be an integer in [0, 65535]; got "${process.env.PORT}". Unset it to use a free port.`);
    process.exit(2);
  }
  try {
    await prepareDemo();
  } catch (e) {
    console.error(`Could not prepare the demo: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  let served;
  try {
    served = await serveDemo({ port });
  } catch (e) {
    console.error(`Could not listen on 127.0.0.1:${port}: ${e instanceof Error ? e.message : String(e)}. Set PORT to a free port (or unset it).`);
    process.exit(1);
  }
  console.log(`MNIST demo: ${served.url}`);
  console.log(`spirals demo: ${served.origin}/examples/browser/index.html`);
  console.log('Ctrl-C stops the server.');
  process.on('SIGINT', () => {
    served.server.close();
    process.exit(0);
  });
}
