// The schedules of a process: how σ and the Levenberg–Marquardt damping α evolve from one iteration
// to the next (docs/method.md §2.5–2.6). A schedule may also end a run, as implicit filtering does
// when σ falls below its floor: the run core (run.ts) asks every schedule of the process for a
// stop reason after each iteration.
import type { SigmaSchedule, StopReason } from './types.js';

/** A schedule that can end a run. */
export interface Schedule {
  /** Why the run must stop now, or undefined to continue. */
  stopReason(): StopReason | undefined;
}

/** The σ schedule of NLB (docs/method.md §2.6). */
export class SigmaController implements Schedule {
  private sigma: number;
  constructor(
    private readonly schedule: SigmaSchedule,
    private readonly sigma0: number,
    private readonly decay: number,
    private readonly shrink: number,
    private readonly grow: number,
    private readonly min: number,
    private readonly max: number,
  ) {
    this.sigma = sigma0;
  }

  /** σ for iteration t. */
  at(t: number): number {
    if (this.schedule === 'decay') return Math.max(this.sigma0 * Math.pow(this.decay, t), this.min);
    return this.sigma;
  }

  /** Records the outcome of an iteration (implicit filtering shrinks on failure, grows on success). */
  update(accepted: boolean): void {
    if (this.schedule !== 'implicit-filtering') return;
    this.sigma = accepted ? Math.min(this.sigma * this.grow, this.max) : this.sigma * this.shrink;
  }

  /** The σ that implicit filtering carries between iterations (σ₀ for the other schedules). */
  get current(): number {
    return this.sigma;
  }

  set current(value: number) {
    this.sigma = value;
  }

  /** Implicit filtering's stop: σ fell below its floor (the other schedules clamp at it instead). */
  stopReason(): StopReason | undefined {
    return this.schedule === 'implicit-filtering' && this.sigma < this.min ? 'sigmaMin' : undefined;
  }
}

/**
 * Levenberg–Marquardt damping control (docs/method.md §2.5). 'factors': α ← α·up after a rejected
 * candidate, α ← α·down after an accepted one. 'gain-ratio' (Nielsen's rule): with
 * ρ = actual / predicted decrease of Φ, α ← α·max(1/3, 1 − (2ρ − 1)³) on acceptance and
 * α ← α·ν, ν ← 2ν on rejection (ν = 2 after every acceptance). It never ends a run: a solve that
 * needs more than alphaMax fails the iteration instead.
 */
export class Damping implements Schedule {
  value: number;
  private nu = 2;
  constructor(alpha0: number, private readonly mode: 'factors' | 'gain-ratio', private readonly up: number,
    private readonly down: number, private readonly min: number, private readonly max: number) {
    this.value = alpha0;
  }

  // From at least 1e-12, so that α = 0 (an exact Gauss–Newton step) can still grow.
  reject(): void {
    const factor = this.mode === 'gain-ratio' ? this.nu : this.up;
    this.value = Math.min(Math.max(this.value * factor, this.min, 1e-12), this.max);
    if (this.mode === 'gain-ratio') this.nu = Math.min(2 * this.nu, 2 ** 30);
  }

  /** rho: the gain ratio of the accepted candidate (used by 'gain-ratio'). */
  accept(rho: number): void {
    if (this.mode === 'gain-ratio') {
      const f = Number.isFinite(rho) ? Math.max(1 / 3, 1 - (2 * rho - 1) ** 3) : 1;
      this.value = Math.min(Math.max(this.value * f, this.min), this.max);
      this.nu = 2;
      return;
    }
    this.value = Math.max(this.value * this.down, this.min);
  }

  stopReason(): StopReason | undefined {
    return undefined;
  }
}
