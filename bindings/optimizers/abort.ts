// What lets a run stop when asked: a cheap, time-based yield to the event loop (so a timer such as
// AbortSignal.timeout can fire between iterations, whatever the forward model), and a race of
// pending work (an evaluation, a callback's promise) against an AbortSignal, so that work that
// never settles cannot hang a run.

/** Milliseconds between yields to the event loop in a run (a frame at 60 Hz). */
export const YIELD_MS = 16;

/** An evaluation (or a callback) was still pending when the run's signal fired; the iteration
 *  was abandoned before it changed anything the caller sees. The run core ends with 'aborted'. */
export class IterationAborted extends Error {
  constructor() {
    super('The operation was aborted while an evaluation was pending.');
    this.name = 'AbortError';
  }
}

type Resume = () => void;

// One MessageChannel of the host (browsers without setImmediate) and the continuations waiting on it.
let channel: MessageChannel | undefined;
const waiting: Resume[] = [];

/** Resolves from a new macrotask (after pending timers and I/O had their turn). */
export function macrotask(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (typeof setImmediate === 'function') {
      setImmediate(resolve);
    } else if (typeof MessageChannel === 'function') {
      if (!channel) {
        channel = new MessageChannel();
        channel.port1.onmessage = () => waiting.shift()?.();
      }
      waiting.push(resolve);
      channel.port2.postMessage(0);
    } else {
      setTimeout(resolve, 0);
    }
  });
}

/** Yields to the event loop once `every` ms passed since the last yield (time-based: cheap when
 *  iterations are short, one yield per iteration when they are long). */
export class Pacer {
  private last = performance.now();
  constructor(private readonly every: number) {}

  /** A promise to await when a yield is due, else undefined (no microtask spent). */
  due(): Promise<void> | undefined {
    if (performance.now() - this.last < this.every) return undefined;
    return macrotask().then(() => {
      this.last = performance.now();
    });
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && typeof x === 'object' && typeof (x as PromiseLike<unknown>).then === 'function';
}

/**
 * `work`'s value, or a rejection with IterationAborted as soon as `signal` fires while `work` is
 * pending (already aborted: at once). The abandoned work may settle later: its rejection is
 * handled here, and nothing is chained to it.
 */
export function settleOrAbort<T>(work: T | PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal || !isThenable(work)) return Promise.resolve(work);
  const pending = Promise.resolve(work);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new IterationAborted());
    if (signal.aborted) {
      pending.catch(() => undefined);
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      // a rejection after the abort lands here too, and is dropped
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
