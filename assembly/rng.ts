// rng kernel family (in progress).
