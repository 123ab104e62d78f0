// The worker script of ParallelMlpEvaluator as text: scripts/build.mjs bundles bindings/nn/worker.ts
// (an IIFE) and puts its source here, so the bundles start workers without a separate file (Node:
// eval, browsers: a Blob URL). From source it is undefined and Node starts worker.ts through tsx.
export const WORKER_SOURCE: string | undefined = undefined;
