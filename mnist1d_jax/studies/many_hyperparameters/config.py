"""The many-hyperparameters study's settings: the validated `ManyHyperparametersConfig` (defaults: the protocol of
the package docstring), the tiny `QUICK` config, `PAPER_SEEDS` (none: the paper has no such study) and the
learned-decay `METHODS`."""

from __future__ import annotations

import dataclasses

from mnist1d_jax.runtime.validation import Config, choice, fail, fraction, integer, option, positive, tuple_of

NAME = "many_hyperparameters"
TITLE = "Thousands of hyperparameters: a weight decay per parameter by implicit differentiation (beyond the paper)"
ORIGINAL_MINUTES = None

METHODS = ("implicit", "truncated")


@dataclasses.dataclass(frozen=True)
class ManyHyperparametersConfig(Config):
    seeds: int = option(5, integer(1, 1000), "seeds (init and batch order), vmapped")
    total_steps: int = option(6000, integer(1, 10_000_000), "inner Adam steps of every method (Table 1: 6,000)")
    batch_size: int = option(100, integer(1, 100_000), "examples per inner step (Table 1: 100)")
    inner_lr: float = option(1e-2, positive(10.0), "inner Adam step (Table 1: 0.01)")
    val_fraction: float = option(0.25, fraction(lo_open=True), "share of the 4,000 training examples held out")
    inner_steps: int = option(50, integer(1, 1_000_000), "K: inner steps per hyper-step (divides total_steps)")
    neumann_iterations: int = option(20, integer(1, 10_000), "Neumann series terms of H⁻¹ (implicit)")
    neumann_alpha: float = option(0.1, positive(10.0), "Neumann step (below 2 / the largest eigenvalue of H)")
    hessian_batch: int = option(3000, integer(1, 100_000), "training examples in the Hessian's loss (implicit; "
                                "all of them: 3,000)")
    hyper_lr_implicit: float = option(0.03, positive(10.0), "Adam step on the log decays, (c) implicit")
    hyper_lr_truncated: float = option(0.1, positive(10.0), "Adam step on the log decays, (d) truncated")
    initial_decay: float = option(1e-4, positive(10.0), "every decay at the start of (c) and (d)")
    decay_grid: tuple[float, ...] = option((1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
                                           tuple_of(positive(10.0), unique=True, increasing=True),
                                           "single decays of baseline (b), chosen on validation")
    methods: tuple[str, ...] = option(METHODS, tuple_of(choice(*METHODS), unique=True), "learned-decay methods")
    chunk: int = option(20, integer(1), "hyper-steps per compiled chunk (progress and checkpoints)")

    def _check(self) -> None:
        if self.total_steps % self.inner_steps:
            fail(self, "inner_steps", self.inner_steps, f"must divide total_steps={self.total_steps}")
        n_train = 4000 - round(4000 * self.val_fraction)
        for name in ("batch_size", "hessian_batch"):
            if getattr(self, name) > n_train:
                fail(self, name, getattr(self, name), f"must be <= the {n_train} training examples")

    @property
    def hyper_steps(self) -> int:
        return self.total_steps // self.inner_steps


Config = ManyHyperparametersConfig
QUICK = ManyHyperparametersConfig(seeds=2, total_steps=12, inner_steps=4, neumann_iterations=3, hessian_batch=200,
                                  decay_grid=(1e-4, 1e-2), chunk=2)
PAPER_SEEDS: dict = {}
