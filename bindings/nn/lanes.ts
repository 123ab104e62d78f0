// The transport under ParallelMlpEvaluator (bindings/nn/parallel.ts): one Lane per worker — a Node
// `worker_threads` Worker or a browser Web Worker behind the same small interface — with its queue
// of pending calls, and how many workers `'auto'` means on this host.
//
// The worker script: in the bundles, the inlined source of bindings/nn/worker.ts (WORKER_SOURCE,
// an IIFE string), started with `eval: true` in Node and from a Blob URL in browsers, so no bundler
// has to find a worker file. From source (tsx), Node starts worker.ts through a tsx bootstrap.
import type { PerturbedRequest } from '../optimizers/types.js';
import { checkInt, describe } from '../errors.js';
import { hasNodeBuiltins, nodeBuiltin } from '../platform.js';
import { WORKER_SOURCE } from './worker-source.js';
import type { Activation } from './mlp.js';
import type { SeqArchitecture } from './layers.js';

/** Most worker threads fit() accepts. */
export const MAX_WORKERS = 64;

/** The start-up message of a worker: the compiled module, the network, the batch size, and the training data. */
export interface WorkerInit {
  /** The main thread's compiled module: a worker runs exactly that code (a custom source, the inlined bundle). */
  compiled?: WebAssembly.Module;
  /** The build to load when the module is not given (a module object made by hand; Node from source only). */
  simd: boolean;
  /** An MLP's layer sizes and activation, or a sequential model's architecture (bindings/nn/model.ts). */
  layers?: number[];
  activation?: Activation;
  architecture?: SeqArchitecture;
  batchSize: number;
  maxMembers: number;
  /** The training rows (f32 rows × d_0, row-major): shared by every worker (SharedArrayBuffer) where
   *  the host allows it, else a copy per worker. */
  data: SharedArrayBuffer | ArrayBuffer;
}

/** One request to a worker: the evaluator's request for a member range (without the center), θ a
 *  transferred copy of θ_t (f64 n). */
export interface WorkerCall {
  id: number;
  request: PerturbedRequest<Float64Array<ArrayBuffer>>;
  /** The rows of the mini-batch, sent only when the batch changed since this worker's last call. */
  batch?: Int32Array;
}

/** A worker's answer: the members' outputs (f64 count × m), or the error its evaluator threw.
 *  id −1 is the start-up message (ready or failed). */
export interface WorkerReply {
  id: number;
  out?: Float64Array;
  error?: { name: string; message: string };
}

/** A worker could not start, failed or exited while evaluating members. */
export class WorkerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerError';
  }
}

/** The evaluator's AbortSignal fired: pending and later calls reject with this (name 'AbortError',
 *  `cause` = the signal's reason) and the workers are terminated. */
export class WorkerAbortError extends Error {
  constructor(reason: unknown) {
    super('The evaluation was aborted: the AbortSignal given to ParallelMlpEvaluator.create fired; its worker threads were terminated.',
      { cause: reason });
    this.name = 'AbortError';
  }
}

/** How a lane starts its worker (tests only: another entry, heap limits in Node). */
export interface LaneOptions {
  /** @internal For tests: the worker threads' heap limits (Node). */
  // the fields of Node's ResourceLimits, spelled out so the declarations need no Node types
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number; codeRangeSizeMb?: number; stackSizeMb?: number };
  /** @internal For tests: another worker script (a module file in Node, a classic script in browsers). */
  entry?: URL;
}

// Every worker started here and not yet ended (tests check that none is left behind).
const live = new Set<object>();

/** Number of evaluator workers currently alive in this process or page. */
export function liveWorkerCount(): number {
  return live.size;
}

/** Worker counts `workers: 'auto'` picks: one per logical core the host reports, minus the main
 *  thread (os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers), in [0, MAX_WORKERS]. */
export function autoWorkers(): number {
  const cores = hasNodeBuiltins
    ? nodeBuiltin('os', 'workers: \'auto\'').availableParallelism()
    : (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  return Math.max(0, Math.min(MAX_WORKERS, Math.floor(cores) - 1));
}

/** fit's `workers` option as a count: undefined → 0, 'auto' → autoWorkers(), else an integer in [0, MAX_WORKERS]. */
export function resolveWorkers(workers: unknown): number {
  if (workers === undefined) return 0;
  if (workers === 'auto') return autoWorkers();
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 0 || workers > MAX_WORKERS) {
    throw new RangeError(`workers must be an integer in [0, ${MAX_WORKERS}] or 'auto'; got ${describe(workers)}.`);
  }
  return workers;
}

/** The two kinds of worker behind one interface. */
interface Transport {
  post(msg: unknown, transfer: Transferable[]): void;
  onMessage(cb: (r: WorkerReply) => void): void;
  /** The script failed to load or threw outside a call (Web Worker 'error', Node 'error'). */
  onError(cb: (e: unknown) => void): void;
  /** The worker ended (Node 'exit'; for a Web Worker, terminate()). */
  onExit(cb: (code: number | null) => void): void;
  /** A pending call keeps a Node process alive; an idle worker does not (no-op in browsers). */
  ref(): void;
  unref(): void;
  terminate(): Promise<void>;
}

// How Node starts a worker: the inlined bundle (eval), or from source a one-line bootstrap that
// registers tsx in the worker before importing worker.ts (Node 20 does not apply the parent's
// `--import tsx` hooks to a worker's entry).
function nodeEntry(options: LaneOptions): { entry: URL | string; eval: boolean } {
  if (options.entry) return { entry: options.entry, eval: false };
  if (WORKER_SOURCE !== undefined) return { entry: WORKER_SOURCE, eval: true };
  const tsx = import.meta.resolve('tsx/esm/api');
  const worker = new URL('./worker.ts', import.meta.url).href;
  return {
    entry: `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(worker)}); });`,
    eval: true,
  };
}

function nodeTransport(init: WorkerInit, options: LaneOptions): Transport {
  const { Worker } = nodeBuiltin('worker_threads', `workers: N`);
  const source = nodeEntry(options);
  const worker = new Worker(source.entry, { workerData: init, eval: source.eval, resourceLimits: options.resourceLimits });
  live.add(worker);
  worker.once('exit', () => live.delete(worker));
  return {
    post: (msg, transfer) => worker.postMessage(msg, transfer as never),
    onMessage: (cb) => worker.on('message', cb),
    onError: (cb) => worker.on('error', cb),
    onExit: (cb) => worker.on('exit', cb),
    ref: () => worker.ref(),
    unref: () => worker.unref(),
    terminate: async () => {
      const exited = new Promise<void>((resolve) => (live.has(worker) ? worker.once('exit', () => resolve()) : resolve()));
      await worker.terminate();
      await exited;
    },
  };
}

type WebWorker = {
  postMessage(msg: unknown, transfer: Transferable[]): void;
  addEventListener(type: string, cb: (e: { data?: unknown; message?: string; error?: unknown }) => void): void;
  terminate(): void;
};
type WebWorkerClass = new (url: string | URL, options?: { type?: 'classic' | 'module'; name?: string }) => WebWorker;

// The Blob URL of the inlined worker script, made once per page (workers of every pool share it).
let blobUrl: string | undefined;
function webEntry(options: LaneOptions): string | URL {
  if (options.entry) return options.entry;
  if (WORKER_SOURCE === undefined) {
    throw new Error('Web Workers need the bundled worker script: import enkf-wasm from its built files (dist/), not from source.');
  }
  return (blobUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' })));
}

function webTransport(init: WorkerInit, options: LaneOptions, index: number): Transport {
  const Worker = (globalThis as { Worker?: WebWorkerClass }).Worker;
  if (typeof Worker !== 'function') {
    throw new Error('this host has neither Node\'s worker_threads nor Web Workers.');
  }
  const worker = new Worker(webEntry(options), { name: `enkf-wasm worker ${index}` });
  live.add(worker);
  const exits: ((code: number | null) => void)[] = [];
  // The first message is the init: a Web Worker has no workerData.
  worker.postMessage(init, []);
  return {
    post: (msg, transfer) => worker.postMessage(msg, transfer),
    onMessage: (cb) => worker.addEventListener('message', (e) => cb(e.data as WorkerReply)),
    onError: (cb) => {
      worker.addEventListener('error', (e) => cb(e.error ?? new Error(e.message || 'the worker script failed to load or threw')));
      worker.addEventListener('messageerror', () => cb(new Error('a message could not be deserialized')));
    },
    onExit: (cb) => exits.push(cb),
    ref: () => undefined,
    unref: () => undefined,
    terminate: async () => {
      if (!live.delete(worker)) return;
      worker.terminate();
      for (const cb of exits) cb(null);
    },
  };
}

/** An error for messages: its message, prefixed by its name unless a plain Error. */
export const why = (e: unknown): string => (e instanceof Error ? (e.name === 'Error' ? e.message : `${e.name}: ${e.message}`) : String(e));

/** True where the training data can be shared between workers (Node; a cross-origin isolated page). */
export const canShareMemory = (): boolean => typeof SharedArrayBuffer === 'function' &&
  (hasNodeBuiltins || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true);

/** One worker with its queue of pending calls. */
export class Lane {
  private readonly transport: Transport;
  private readonly pending = new Map<number, { resolve: (r: Float64Array) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | null = null;
  /** The batch version this worker last received. */
  batchVersion = -1;
  /** Resolves when the worker is ready; rejects with why it could not start. */
  readonly ready: Promise<void>;

  constructor(init: WorkerInit, readonly index: number, options: LaneOptions) {
    this.transport = hasNodeBuiltins ? nodeTransport(init, options) : webTransport(init, options, index);
    const t = this.transport;
    let started = false;
    this.ready = new Promise<void>((resolve, reject) => {
      t.onMessage((r) => {
        if (r.id !== -1 || started) return;
        started = true;
        if (r.error) reject(reported(r.error));
        else resolve();
      });
      t.onError((e) => { if (!started) reject(e); });
      t.onExit((code) => reject(new Error(`the thread exited with code ${code} before it was ready`)));
    });
    t.onMessage((r) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) t.unref();
      if (r.error) p.reject(new WorkerError(`Worker ${index}: ${r.error.name}: ${r.error.message}`));
      else p.resolve(r.out!);
    });
    t.onError((e) => {
      if (!started) return;
      this.fail(new WorkerError(`Worker ${index} failed while evaluating members: ${why(e)}`, { cause: e }));
      // A Web Worker lives on after an uncaught error: end it, its state is unknown.
      t.terminate().catch(() => undefined);
    });
    t.onExit((code) => {
      this.fail(new WorkerError(`Worker ${index} exited (code ${code}) while evaluating members; this evaluator cannot continue. ` +
        'Start a new one (or pass workers: 0 to evaluate on the main thread).'));
    });
  }

  /** Rejects every pending call and every later one with `e` (the first failure wins). */
  fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  call(msg: Omit<WorkerCall, 'id'>): Promise<Float64Array> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Float64Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.transport.ref();
      this.transport.post({ ...msg, id } satisfies WorkerCall, [msg.request.theta.buffer]);
    });
  }

  unref(): void {
    this.transport.unref();
  }

  /** Ends the worker; resolves once it is gone. */
  terminate(): Promise<void> {
    return this.transport.terminate();
  }
}

// An error a worker reported (its name and message crossed the thread boundary).
function reported(error: { name: string; message: string }): Error {
  const e = new Error(error.message);
  e.name = error.name;
  return e;
}
