// Every rule for splitting a perturbed request (members member0 … member0 + count − 1 of one draw,
// plus θ itself with `center`) into smaller calls, in one place: the driver uses it to respect an
// evaluator's maxMembers, the parallel evaluator to share one call among threads. The rules:
//   • θ is row 0 of the first call (all k + 1 forward passes of an iteration in one call when they fit);
//   • an antithetic pair ±ξ_j (members 2j, 2j + 1) is never split: calls start at even members;
//   • no call has more than maxMembers rows (θ counts as a row).
// Splitting never changes a value: member i's outputs depend on (θ, σ, seed, draw, i) and the batch only.
import type { PerturbedRequest } from './types.js';

/** Members per call under a limit of `limit` rows: even when above 1 with antithetic pairs. */
export function wholePairs(limit: number, antithetic: boolean): number {
  return antithetic && limit > 1 && limit !== Infinity ? limit - (limit % 2) : limit;
}

/** The request's members member0 … member0 + count − 1 (with θ when `center`), only the request's
 *  own fields (a request yielded by an optimizer also carries its output buffer). */
export function subRequest<T>(req: PerturbedRequest<T>, member0: number, count: number, center: boolean): PerturbedRequest<T> {
  const { theta, sigma, seed, draw, antithetic, perturbation } = req;
  return { theta, sigma, seed, draw, member0, count, antithetic, center, ...(perturbation && { perturbation }) };
}

/** One call of a split request: its sub-request and the row of the request's output it starts at. */
export interface MemberCall {
  /** A sub-range of the members; `count` 0 with `center` means θ alone. */
  request: PerturbedRequest;
  /** First output row of this call (row 0 is θ when the request carries the center). */
  row: number;
}

/**
 * The calls that evaluate `req` with at most `maxRows` rows each (Infinity: one call). θ goes
 * beside the first members, or alone (count 0) when no member fits beside it: one row per call, or
 * a pair that must not be split.
 */
export function* memberCalls(req: PerturbedRequest, maxRows: number): Generator<MemberCall, void, void> {
  const chunk = wholePairs(maxRows, req.antithetic);
  let center = req.center;
  let row = 0;
  if (center && wholePairs(chunk - 1, req.antithetic) < (req.antithetic ? 2 : 1)) {
    yield { request: subRequest(req, req.member0, 0, true), row: 0 };
    center = false;
    row = 1;
  }
  for (let c = 0; c < req.count;) {
    const count = Math.min(wholePairs(center ? chunk - 1 : chunk, req.antithetic), req.count - c);
    yield { request: subRequest(req, req.member0 + c, count, center), row };
    c += count;
    row += count + (center ? 1 : 0);
    center = false;
  }
}

/**
 * Member ranges of `threads` threads for the members of `req` (θ on thread 0 with the center):
 * returns `threads` ends, thread t evaluating members [ends[t − 1], ends[t]) (thread 0 from
 * member0). Rows are balanced; with antithetic pairs every boundary falls on an even global member
 * index, so a pair ±ξ_j stays on one thread.
 */
export function splitMembers(member0: number, count: number, first: number, antithetic: boolean, threads: number): number[] {
  const ends: number[] = [];
  const rows = count + first;
  const end = member0 + count;
  let prev = member0;
  for (let t = 1; t < threads; t++) {
    let b = member0 + Math.round((t * rows) / threads) - first;
    if (antithetic && b % 2 !== 0) b++;
    b = Math.min(end, Math.max(prev, b));
    ends.push(b);
    prev = b;
  }
  ends.push(end);
  return ends;
}

/** The sub-requests of `req` for `threads` threads (see splitMembers); thread 0 carries the center,
 *  an empty range is a request with count 0 (θ alone on thread 0, nothing elsewhere). */
export function splitAcrossThreads(req: PerturbedRequest, threads: number): PerturbedRequest[] {
  const ends = splitMembers(req.member0, req.count, req.center ? 1 : 0, req.antithetic, threads);
  return ends.map((hi, t) => {
    const lo = t === 0 ? req.member0 : ends[t - 1];
    return subRequest(req, lo, hi - lo, t === 0 && req.center);
  });
}
