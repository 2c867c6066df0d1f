"""The learning-rate study's settings: the validated `LRStudyConfig` (defaults: the paper's protocol, and the
estimator comparison beyond it), the tiny `QUICK` config, `PAPER_SEEDS` (empty: the defaults already run the
paper's two trials) and the names of the meta-gradient `ESTIMATORS` it can run."""

from __future__ import annotations

import dataclasses

from mnist1d_jax.runtime.validation import Config, boolean, choice, fail, integer, option, optional, positive, tuple_of

NAME = "metalearn_lr"
TITLE = "Metalearning the learning rate (Fig. 5)"
ORIGINAL_MINUTES = 0.25

# the estimators the study can run (config names; see `estimators.make_estimator`)
ESTIMATORS = ("exact", "forward", "truncated", "es", "pes")


@dataclasses.dataclass(frozen=True)
class LRStudyConfig(Config):
    hidden: int = option(50, integer(1, 100_000), "hidden units of the inner MLP")
    inner_steps: int = option(200, integer(1, 1_000_000), "SGD steps of every inner run")
    batch_size: int = option(50, integer(1, 4000), "examples per inner batch")
    outer_steps: int = option(50, integer(1, 1_000_000), "outer gradient steps on the learning rate")
    outer_lr: float = option(0.3, positive(1e3), "outer step size")
    initial_lrs: tuple[float, ...] = option((1.5, 0.15), tuple_of(positive(1e3)), "the trials' initial rates")
    trial_init_seed: int = option(0, integer(0, 2**31 - 1), "init key of the trials")
    sweep_init_seeds: tuple[int, ...] = option((1, 2, 3, 4, 5, 6, 7, 8), tuple_of(integer(0, 2**31 - 1), min_len=0,
                                               unique=True), "init keys of the sweep over inits")
    # the sweep's starting η, cycled over its init seeds (empty: initial_lrs), so 8 inits start 4 high, 4 low
    sweep_initial_lrs: tuple[float, ...] = option((), tuple_of(positive(1e3), min_len=0),
                                                  "the sweep's initial rates, cycled (default: initial_lrs)")
    num_samples: int = option(5000, integer(20, 10_000_000), "dataset size (5,000: the frozen default data)")
    checkpoint: bool = option(False, boolean, "jax.checkpoint the inner step (memory for time)")
    chunk: int | None = option(10, optional(integer(1)), "outer steps per compiled chunk (progress between)")
    # How the meta-gradient dη is computed (all exact): "fused" (default) carries (θ, dθ/dη) through a
    # hand-written forward-mode step: 1.4x faster than "forward" = jax.jvp of the generic unroll (0.57 vs 0.78 s
    # per 10 outer steps of the 10 runs on 2 cores, measured), which this tiny latency-bound study needs to stay
    # at its old speed; "reverse" = jax.grad through the unroll (with `checkpoint`, the memory measurement).
    mode: str = option("fused", choice("fused", "forward", "reverse"), "how the meta-gradient is computed")
    memory: bool = option(True, boolean, "measure the compiled memory of 200- and 2,000-step unrolls")
    # The two trials again with each of these `meta.estimators` (after, and independent of, the part above;
    # empty: skipped). The meta-parameter stays η itself and the outer optimiser GD with `outer_lr`, so only the
    # meta-gradient changes; σ is therefore in units of η (0.01: under 7 % of the smallest starting rate, so the
    # smoothing moves the optimum by far less than the ± 0.03 target).
    estimators: tuple[str, ...] = option(("exact", "truncated", "es", "pes"),
                                         tuple_of(choice(*ESTIMATORS), min_len=0, unique=True),
                                         "meta-gradient estimators run on the two trials")
    truncation_window: int = option(40, integer(1, 1_000_000), "inner steps per window (truncated, PES)")
    es_sigma: float = option(0.01, positive(1e3), "ES/PES perturbation std, in units of η")
    es_pairs: int = option(8, integer(1, 100_000), "antithetic pairs of ES")
    # PES needs more pairs than ES here: for one meta-parameter ES's per-pair estimate is ≈ g·ε²/σ², so its noise
    # vanishes with g at the fixed point, while PES's sums per-window terms ∂L_j/∂η_k ε_k ε_l that do not cancel
    # there, so η keeps a spread ∝ 1/√pairs around it. Final η over 4 perturbation seeds × 2 trials, measured:
    # 8 pairs std 0.038 (3 of 8 outside 0.62 ± 0.03), 32 pairs (3 seeds) std 0.018 (1 of 6 outside), 4x the work.
    pes_pairs: int = option(32, integer(1, 100_000), "antithetic pairs of PES")
    estimator_seed: int = option(0, integer(0, 2**31 - 1), "key of the ES/PES perturbations")

    def _check(self) -> None:
        n_train = int(self.num_samples * 0.8)
        if self.batch_size > n_train:
            fail(self, "batch_size", self.batch_size, f"must be <= the {n_train} training examples")
        windowed = {"truncated", "pes"} & set(self.estimators)
        if windowed and self.inner_steps % self.truncation_window:
            fail(self, "truncation_window", self.truncation_window, f"must divide inner_steps={self.inner_steps}")
        if self.num_samples % 10:
            fail(self, "num_samples", self.num_samples, "must be a multiple of 10")


Config = LRStudyConfig
QUICK = LRStudyConfig(inner_steps=10, outer_steps=3, sweep_init_seeds=(1, 2), memory=False, truncation_window=5,
                      es_pairs=2, pes_pairs=2)
PAPER_SEEDS: dict = {}
