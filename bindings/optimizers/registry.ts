// The processes minimize(), ask/tell and fit() can run, by name. Each entry (a ProcessDefinition in
// the process's own file) says how to create it, its option keys and defaults, its network defaults
// for fit, and the capabilities the run core and fit's hooks look at — so nothing above this file
// branches on a process's name. A new process is one file plus one line here.
import type { Optimizer, ProcessDefinition } from './types.js';
import type { Workspace } from '../workspace.js';
import { NLB_PROCESS } from './nlb.js';
import { EKI_PROCESS } from './eki.js';
import { describe } from '../errors.js';

export const PROCESSES = {
  nlb: NLB_PROCESS,
  eki: EKI_PROCESS,
} as const;

/** The name of a registered process. */
export type ProcessKind = keyof typeof PROCESSES;

/** Every registered process name, in registry order (the first is the default). */
export const PROCESS_KINDS = Object.keys(PROCESSES) as ProcessKind[];

/** The process named `kind` (default: the first), or a TypeError listing the known ones. */
export function processOf(kind: unknown, name = 'optimizer'): ProcessDefinition<Record<string, unknown>> {
  const k = kind ?? PROCESS_KINDS[0];
  if (typeof k !== 'string' || !Object.hasOwn(PROCESSES, k)) {
    throw new TypeError(`${name} must be one of ${PROCESS_KINDS.map((p) => `'${p}'`).join(', ')}; got ${describe(kind)}.`);
  }
  return PROCESSES[k as ProcessKind] as unknown as ProcessDefinition<Record<string, unknown>>;
}

/** The other processes that take option `key` (to say which one an option belongs to). */
export function processesWithOption(key: string): ProcessKind[] {
  return PROCESS_KINDS.filter((k) => PROCESSES[k].optionKeys.includes(key));
}

/** A process's optimizer from θ, restored from a saved state when given (disposed if that fails). */
export function createOptimizer(process: ProcessDefinition<Record<string, unknown>>, ws: Workspace, theta0: ArrayLike<number>,
  options: Record<string, unknown>, saved?: Parameters<Optimizer['loadState']>[0]): Optimizer {
  const opt = process.create(ws, theta0, options);
  if (saved) {
    try {
      opt.loadState(saved);
    } catch (e) {
      opt.dispose();
      throw e;
    }
  }
  return opt;
}
