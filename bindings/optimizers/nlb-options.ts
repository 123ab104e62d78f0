// The options of the never-look-back EnKF (bindings/optimizers/nlb.ts): their keys, their defaults
// (evidence: docs/defaults.md), fit's defaults for networks, and their validation.
import type { NlbOptions } from './types.js';
import { boolOption, enumOption, intOption, numberOption, rejectUnknownOptions } from './options.js';

/** Every NlbOptions key (unknown keys are rejected). */
export const NLB_OPTION_KEYS = [
  'ensembleSize', 'sigma', 'sigmaSchedule', 'sigmaDecay', 'sigmaShrink', 'sigmaGrow', 'sigmaMin', 'sigmaMax',
  'alpha', 'alphaUp', 'alphaDown', 'alphaMin', 'alphaMax', 'dampingControl', 'acceptance', 'maxRetries', 'stepSize', 'stepDecay',
  'trustRegion', 'lambda', 'antithetic', 'seed', 'maxMembers', 'maxRedraws', 'perturbation', 'blocks',
] as const;

/** The default ensemble size for n parameters: min(2n, 32) (evidence: docs/defaults.md). */
export function defaultEnsembleSize(n: number): number {
  return Math.max(1, Math.min(2 * n, 32));
}

/** The defaults of NlbOptions except ensembleSize (see defaultEnsembleSize; evidence: docs/defaults.md). */
export const NLB_DEFAULTS = {
  sigma: 0.1,
  sigmaSchedule: 'implicit-filtering' as const,
  sigmaDecay: 0.9,
  sigmaShrink: 0.5,
  sigmaGrow: 1,
  sigmaMin: 1e-8,
  sigmaMax: Infinity,
  alpha: 1e-6,
  alphaUp: 3,
  alphaDown: 0.1,
  alphaMin: 1e-12,
  alphaMax: 1e12,
  dampingControl: 'factors' as const,
  acceptance: true,
  maxRetries: 2,
  stepSize: 1,
  stepDecay: Infinity,
  trustRegion: Infinity,
  lambda: 0,
  antithetic: false,
  seed: 1,
  maxRedraws: 5,
};

/** fit's NLB defaults for networks: rank-1 members (k = 128) and a trust region of 0.5, picked by
 *  wall time to 91.7 % test accuracy on the 8 000 / 2 000 MNIST split (784-64-10 tanh, batch 512;
 *  bench/rank.ts, docs/defaults.md "Spending the savings"): 13–15 s against Gaussian k = 32 never in
 *  60 s. σ, the step decay and λ are those of the Gaussian k = 32 settings (docs/method.md §2.5,
 *  λ = 3e-3 instead of 1e-4: the Tikhonov term holds back the weights of rarely active inputs);
 *  σ ∈ {0.02, 0.05}, step decay 1000 and λ = 1e-3 measured no better with rank-1 members.
 *  perturbation: 'gaussian' restores dense members. */
export const FIT_NLB_DEFAULTS: Readonly<NlbOptions> = Object.freeze({
  ensembleSize: 128, perturbation: Object.freeze({ kind: 'low-rank' as const, rank: 1 }), sigma: 0.01, sigmaSchedule: 'constant',
  trustRegion: 0.5, stepSize: 1, stepDecay: 200, lambda: 3e-3,
});

/** Every NlbOptions value resolved (validated, defaults filled in) except k, seed and maxMembers. */
export type ResolvedNlbOptions = Required<Omit<NlbOptions, 'maxMembers' | 'ensembleSize' | 'seed' | 'perturbation' | 'blocks'>>;

/** Validates NlbOptions for n parameters: k (ensembleSize), the seed and every other option. */
export function resolveNlbOptions(options: NlbOptions, n: number): { k: number; seed: number; o: ResolvedNlbOptions } {
  rejectUnknownOptions('the nlb optimizer', options, NLB_OPTION_KEYS);
  const k = intOption('ensembleSize', options.ensembleSize, defaultEnsembleSize(n), 1, 4096);
  const seed = intOption('seed', options.seed, NLB_DEFAULTS.seed, 0, 0xffffffff);
  const d = NLB_DEFAULTS;
  const sigma = numberOption('sigma', options.sigma, d.sigma, Number.MIN_VALUE);
  const o = {
    sigma,
    sigmaSchedule: enumOption('sigmaSchedule', options.sigmaSchedule, d.sigmaSchedule, ['constant', 'decay', 'implicit-filtering']),
    sigmaDecay: numberOption('sigmaDecay', options.sigmaDecay, d.sigmaDecay, Number.MIN_VALUE, 1),
    sigmaShrink: numberOption('sigmaShrink', options.sigmaShrink, d.sigmaShrink, Number.MIN_VALUE, 1),
    sigmaGrow: numberOption('sigmaGrow', options.sigmaGrow, d.sigmaGrow, 1),
    sigmaMin: numberOption('sigmaMin', options.sigmaMin, d.sigmaMin, 0),
    sigmaMax: numberOption('sigmaMax', options.sigmaMax, d.sigmaMax, 0, Infinity, true),
    alpha: numberOption('alpha', options.alpha, d.alpha, 0),
    alphaUp: numberOption('alphaUp', options.alphaUp, d.alphaUp, 1),
    alphaDown: numberOption('alphaDown', options.alphaDown, d.alphaDown, 0, 1),
    alphaMin: numberOption('alphaMin', options.alphaMin, d.alphaMin, 0),
    alphaMax: numberOption('alphaMax', options.alphaMax, d.alphaMax, 0),
    dampingControl: enumOption('dampingControl', options.dampingControl, d.dampingControl, ['factors', 'gain-ratio']),
    acceptance: boolOption('acceptance', options.acceptance, d.acceptance),
    maxRetries: intOption('maxRetries', options.maxRetries, d.maxRetries, 1, 100),
    stepSize: numberOption('stepSize', options.stepSize, d.stepSize, Number.MIN_VALUE),
    stepDecay: numberOption('stepDecay', options.stepDecay, d.stepDecay, Number.MIN_VALUE, Infinity, true),
    trustRegion: numberOption('trustRegion', options.trustRegion, d.trustRegion, Number.MIN_VALUE, Infinity, true),
    lambda: numberOption('lambda', options.lambda, d.lambda, 0),
    antithetic: boolOption('antithetic', options.antithetic, d.antithetic),
    maxRedraws: intOption('maxRedraws', options.maxRedraws, d.maxRedraws, 0, 60),
  };
  if (o.sigmaMax < sigma) throw new RangeError(`sigmaMax (${o.sigmaMax}) must be ≥ sigma (${sigma}).`);
  if (o.alphaMax < o.alphaMin) throw new RangeError(`alphaMax (${o.alphaMax}) must be ≥ alphaMin (${o.alphaMin}).`);
  if (o.antithetic && k % 2 !== 0) {
    throw new RangeError(`ensembleSize must be even with antithetic pairs; got ${k}. Use ${k + 1} or turn antithetic off.`);
  }
  return { k, seed, o };
}
