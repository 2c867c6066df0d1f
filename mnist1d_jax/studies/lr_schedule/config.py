"""The learned-schedule study's settings: the validated `ScheduleStudyConfig` (defaults: the protocol of the
package docstring), the tiny `QUICK` config, `PAPER_SEEDS` (none: the paper has no such study) and
`SEED_OFFSET`, which keeps the evaluation seeds apart from the meta-training ones."""

from __future__ import annotations

import dataclasses

from mnist1d_jax.runtime.validation import Config, fail, fraction, integer, option, positive, tuple_of

NAME = "lr_schedule"
TITLE = "A learned learning-rate schedule (beyond the paper)"
ORIGINAL_MINUTES = None


@dataclasses.dataclass(frozen=True)
class ScheduleStudyConfig(Config):
    inner_steps: int = option(1000, integer(2, 1_000_000), "Adam steps of every inner run")
    batch_size: int = option(100, integer(1, 10_000), "examples per inner batch")
    knots: int = option(16, integer(2, 1000), "knots of the piecewise-linear log learning rate")
    initial_lr: float = option(0.01, positive(10.0), "the schedule's starting (constant) rate")
    val_fraction: float = option(0.125, fraction(lo_open=True), "share of the training set held out (500 of 4,000)")
    objective_steps: int = option(200, integer(1), "the meta-objective averages the last this many inner steps")
    val_batch: int = option(100, integer(1, 100_000), "validation examples per inner step (rotating)")
    window: int = option(100, integer(1, 1_000_000), "PES window (inner steps; divides inner_steps)")
    sigma: float = option(0.1, positive(10.0), "PES perturbation std, in log-rate units")
    pairs: int = option(4, integer(1, 10_000), "PES antithetic pairs")
    outer_steps: int = option(60, integer(1, 1_000_000), "outer Adam steps on the knots")
    outer_lr: float = option(0.05, positive(10.0), "outer Adam step size")
    meta_seeds: tuple[int, ...] = option((0, 1, 2), tuple_of(integer(0, 2**31 - 1), unique=True),
                                         "seeds of the meta-training runs (one learned schedule each)")
    eval_seeds: int = option(5, integer(1, 10_000), "fresh seeds every schedule is evaluated on")
    grid: tuple[float, ...] = option((1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2), tuple_of(positive(10.0), unique=True),
                                     "constant rates and cosine peaks of the baselines")
    chunk: int = option(5, integer(1), "outer steps per compiled chunk (progress and checkpoints)")

    def _check(self) -> None:
        if self.inner_steps % self.window:
            fail(self, "window", self.window, f"must divide inner_steps={self.inner_steps}")
        if self.objective_steps > self.inner_steps:
            fail(self, "objective_steps", self.objective_steps, f"must be <= inner_steps={self.inner_steps}")
        n_val = round(4000 * self.val_fraction)
        if self.val_batch > n_val:
            fail(self, "val_batch", self.val_batch, f"must be <= the {n_val} validation examples")
        if self.batch_size > 4000 - n_val:
            fail(self, "batch_size", self.batch_size, f"must be <= the {4000 - n_val} training examples")


Config = ScheduleStudyConfig
QUICK = ScheduleStudyConfig(inner_steps=12, window=4, objective_steps=4, knots=3, pairs=1, outer_steps=2, chunk=1,
                            meta_seeds=(0,), eval_seeds=2, grid=(1e-2,))
PAPER_SEEDS: dict = {}
SEED_OFFSET = 1000  # evaluation seeds are SEED_OFFSET + i: disjoint from the meta-training seeds
