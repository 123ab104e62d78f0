// Explicit f32 parameter rows of a perturbed request, for evaluators whose forward reads parameter
// rows (the sequential models): one entry point for both perturbation families.
//
//   const rows = new MemberRows(ws, n);           // n = parameter count (θ's length)
//   rows.write(request, dst, dstStride);          // per request (or sub-request of a split one)
//   rows.dispose();                               // frees its scratch (also freed with ws)
//
//   request: PerturbedRequest { theta (Buf f64 n), sigma, seed, draw, member0, count, antithetic,
//            center, perturbation? } (bindings/optimizers/types.ts)
//   dst:     byte offset into ws.memory (4-aligned) of (center ? 1 : 0) + count f32 rows,
//            dstStride ≥ n floats apart; the first n floats of each row are written.
//   Row 0 = f32(θ) when request.center; then row center + j is member i = member0 + j:
//     Gaussian (perturbation undefined): θ + σ·s_i·ξ_{q_i}, exactly the rows of perturb32;
//     low-rank: θ + σ·s_i·D_{q_i} over perturbation.shapes (lowRankMembers), each entry the f64
//       member of LowRankDirections.members rounded once to f32.
//   (q_i = i, s_i = 1; with antithetic pairs q_i = ⌊i/2⌋, s_i = (−1)^i.) A row depends on
//   (θ, σ, seed, draw, i) only, so a request split into calls gives the same rows.
import type { Buf, Workspace } from '../workspace.js';
import type { LowRankPerturbation, PerturbedRequest } from './types.js';

export class MemberRows {
  // low-rank scratch, kept for the last perturbation seen: shapes i32 2L; work lowRankMembersWorkBytes
  private shapes: Buf<'i32'> | null = null;
  private work: Buf<'f64'> | null = null;
  private key = '';

  constructor(private readonly ws: Workspace, readonly n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`MemberRows: n must be a positive integer (the parameter count); got ${n}.`);
  }

  /** Writes the request's rows (θ first with center, then its members) into dst (f32, dstStride floats apart). */
  write(request: PerturbedRequest, dst: number, dstStride: number): void {
    const { ws, n } = this;
    const { theta, sigma, seed, draw, member0, count, perturbation } = request;
    if (theta.length !== n) throw new RangeError(`MemberRows: request.theta must hold n = ${n} parameters; got ${theta.length}.`);
    if (!Number.isInteger(dstStride) || dstStride < n) {
      throw new RangeError(`MemberRows: dstStride must be an integer ≥ n = ${n} (floats between rows); got ${dstStride}.`);
    }
    const anti = request.antithetic ? 1 : 0;
    const center = request.center ? 1 : 0;
    const raw = ws.raw;
    if (!perturbation) {
      if (center) raw.narrow(n, theta.ptr, dst);
      raw.perturb32(count, n, sigma, seed, draw, member0, anti, dstStride, theta.ptr, dst + center * dstStride * 4);
      return;
    }
    const { layers, shapes, work } = this.scratch(perturbation);
    raw.lowRankMembers(count, layers, shapes, perturbation.rank, sigma, seed, draw, member0, anti, center, theta.ptr, dst, dstStride, work);
  }

  dispose(): void {
    for (const b of [this.shapes, this.work]) if (b && this.ws.owns(b)) this.ws.free(b);
    this.shapes = this.work = null;
    this.key = '';
  }

  // The shapes and work of `p` in wasm memory (re-made when the blocks or the rank change).
  private scratch(p: LowRankPerturbation): { layers: number; shapes: number; work: number } {
    const key = `${p.rank}|${p.shapes.join(';')}`;
    if (key !== this.key || !this.shapes || !this.work) {
      let total = 0;
      for (const [fanIn, fanOut] of p.shapes) total += fanIn * fanOut + fanOut;
      if (total !== this.n) {
        throw new RangeError(`MemberRows: the low-rank blocks hold ${total} parameters but θ has n = ${this.n}; ` +
          'the perturbation must describe this model (fit fills its blocks in from the model).');
      }
      this.dispose();
      const ws = this.ws;
      this.shapes = ws.from('i32', p.shapes.flat());
      this.work = ws.f64(Math.max(1, Math.ceil(ws.raw.lowRankMembersWorkBytes(p.shapes.length, this.shapes.ptr, p.rank) / 8)));
      this.key = key;
    }
    return { layers: p.shapes.length, shapes: this.shapes.ptr, work: this.work.ptr };
  }
}
