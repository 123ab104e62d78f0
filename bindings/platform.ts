// Node built-ins without importing them. `process.getBuiltinModule` (Node ≥ 20.16, also Deno and
// Bun) hands them over at run time, so the library has no `node:` import for a bundler to resolve:
// a browser build never sees Node code to bundle or stub, and the same files run in Node, bundled
// or not, as ESM or through require().

type Builtins = {
  'fs/promises': typeof import('node:fs/promises');
  url: typeof import('node:url');
  module: typeof import('node:module');
  path: typeof import('node:path');
  worker_threads: typeof import('node:worker_threads');
  os: typeof import('node:os');
};

type GetBuiltin = <K extends keyof Builtins>(id: K) => Builtins[K];
const getBuiltin = (globalThis as { process?: { getBuiltinModule?: GetBuiltin } }).process?.getBuiltinModule;

/** True in Node (and hosts with Node's built-ins: Deno, Bun). */
export const hasNodeBuiltins = typeof getBuiltin === 'function';

/** Node's built-in module `id`; elsewhere a clear error saying that `what` needs Node. */
export function nodeBuiltin<K extends keyof Builtins>(id: K, what: string): Builtins[K] {
  if (!getBuiltin) {
    throw new Error(`${what} needs Node's ${id} module, which this host does not have (Node ≥ 20.16 provides it through process.getBuiltinModule).`);
  }
  return getBuiltin(id);
}
