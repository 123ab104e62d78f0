// A static file server on loopback for the browser tests: serves the package root so a page can
// import dist/*.js and fetch build/*.wasm. `/nomime/` serves the same files but .wasm as octet-stream to
// exercise the compileStreaming → arrayBuffer fallback.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, normalize, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
};

export async function serve(): Promise<{ server: Server; origin: string }> {
  const server = createServer(async (req, res) => {
    let path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const noMime = path.startsWith('/nomime/');
    if (noMime) path = path.slice('/nomime'.length);
    const file = normalize(join(ROOT, path));
    if (!file.startsWith(ROOT) || file.includes('node_modules')) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      const wasmWithoutMime = noMime && extname(file) === '.wasm';
      res.writeHead(200, { 'content-type': wasmWithoutMime ? 'application/octet-stream' : TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  return { server, origin: `http://127.0.0.1:${address.port}` };
}
