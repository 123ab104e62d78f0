// Shared by the kernel suites: both builds of the module, and an assertion on kernel aborts.
import * as assert from 'uvu/assert';
import { loadModule, KernelError, type EnkfModule } from '../bindings/index.js';

let mods: EnkfModule[] | undefined;

/** The SIMD and the scalar module, loaded once per suite file. */
export async function builds(): Promise<EnkfModule[]> {
  mods ??= [await loadModule({ simd: true }), await loadModule({ simd: false })];
  return mods;
}

/** 'simd' or 'scalar', for assertion messages. */
export const label = (m: EnkfModule): string => (m.simd ? 'simd' : 'scalar');

/** Asserts that `fn` throws a KernelError whose kernel message matches `pattern`. */
export function expectKernelError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, KernelError);
    assert.match((e as KernelError).kernelMessage, pattern);
    return;
  }
  assert.unreachable(`expected a KernelError matching ${pattern}`);
}

/** Asserts that `fn` throws or rejects with an error of class `kind` whose message matches every pattern. */
export async function expectRejection(fn: () => unknown, kind: new (...args: never[]) => Error, ...patterns: (RegExp | string)[]): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.instance(e, kind, `${(e as Error)?.name}: ${(e as Error)?.message}`);
    for (const p of patterns) assert.match((e as Error).message, p);
    return;
  }
  assert.unreachable(`expected a ${kind.name}`);
}
