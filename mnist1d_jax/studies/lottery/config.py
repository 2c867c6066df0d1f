"""The lottery study's settings: the protocol's constants and its validated config (defaults: the paper's)."""

from __future__ import annotations

import dataclasses

from mnist1d_jax.runtime.validation import Config, choice, fail, integer, option, optional, positive, tuple_of

NAME = "lottery"
TITLE = "Lottery tickets (Fig. 3 a-g, mask figure)"
ORIGINAL_MINUTES = 40.0

REFERENCE_ROUND = 91  # s = 91/99 = 0.919, the paper's "92 % sparse" ticket
CONDITIONS = ("baseline", "flipped", "shuffled", "reinit")
MODELS = ("dense", "lottery", "random")


@dataclasses.dataclass(frozen=True)
class LotteryConfig(Config):
    """The study's settings; defaults are the paper's."""

    width: int = option(500, integer(8, 100_000), "hidden width of the residual MLP")
    trials: int = option(2, integer(1, 1000), "trials (each with its own initial weights)")
    rounds: tuple[int, ...] = option(tuple(range(100)), tuple_of(integer(0), unique=True, increasing=True),
                                     "which rounds i of the schedule s_i = i / (n_schedule - 1) to run")
    n_schedule: int = option(100, integer(2, 100_000), "rounds of the full sparsity schedule")
    learning_rate: float = option(0.02, positive(1e3), "Adam's learning rate")
    batch_size: int = option(100, integer(1, 4000), "examples per batch of the search")
    total_steps: int = option(1501, integer(1, 10_000_000), "T of every search round (T + 1 updates)")
    eval_every: int = option(100, integer(1), "evaluate every this many steps")
    snapshot_step: int = option(1000, integer(0), "pruning scores come from this step's snapshot")
    score_from: str = option("snapshot", choice("snapshot", "final"), "score the snapshot or the final weights")
    ablation_batch: int = option(500, integer(1, 4000), "examples per batch of the ablations")
    ablation_steps: int = option(6000, integer(1, 10_000_000), "T of the ablation runs")
    ablation_trials: int | None = option(None, optional(integer(1)), "trials of the ablations (default: all)")
    granularity: int = option(50, integer(1), "compacted layouts are multiples of this many units")

    def _check(self) -> None:
        if REFERENCE_ROUND not in self.rounds:
            fail(self, "rounds", self.rounds, f"must include the reference round {REFERENCE_ROUND} (the 92 % ticket)")
        if self.rounds[-1] > self.n_schedule - 1:
            fail(self, "rounds", self.rounds, f"rounds run from 0 to n_schedule - 1 = {self.n_schedule - 1}")
        if self.eval_every > self.total_steps or self.eval_every > self.ablation_steps:
            fail(self, "eval_every", self.eval_every, "must be <= total_steps and ablation_steps")
        if self.score_from == "snapshot" and (self.snapshot_step > self.total_steps or
                                               self.snapshot_step % self.eval_every):
            fail(self, "snapshot_step", self.snapshot_step, f"must be an evaluation step <= total_steps="
                 f"{self.total_steps} (a multiple of eval_every={self.eval_every})")
        if self.ablation_trials is not None and self.ablation_trials > self.trials:
            fail(self, "ablation_trials", self.ablation_trials, f"must be <= trials={self.trials}")

    def sparsity(self, i: int) -> float:
        return i / (self.n_schedule - 1)


Config = LotteryConfig
QUICK = LotteryConfig(width=32, trials=1, rounds=(0, 50, 91), total_steps=21, eval_every=10, snapshot_step=10,
                      ablation_batch=100, ablation_steps=20, granularity=8)
PAPER_SEEDS: dict = {}  # the default is the paper's two trials
