"""The reweighting study's settings: the methods compared and the validated config (defaults: the noisy-MLP
panel of the double-descent protocol)."""

from __future__ import annotations

import dataclasses

from mnist1d_jax.runtime.validation import Config, choice, fraction, integer, option, positive, real, tuple_of

NAME = "reweight"
TITLE = "Learning to reweight examples against the noisy double-descent peak (beyond the paper)"
ORIGINAL_MINUTES = None
REFUSES_CLASS_SUBSET = ("its label noise replays the original notebook's draws over all 4,000 training labels and "
                        "relabels examples with any of the ten digits")
ESTIMATORS = ("exact", "forward")
METHODS = ("plain", "reweight", "oracle", "mwnet", "prune")
LABELS = {"plain": "plain (= the double-descent protocol's noisy MLP)", "reweight": "learned reweighting (Ren et al.)",
          "oracle": "oracle (wrong labels dropped)", "mwnet": "Meta-Weight-Net",
          "prune": "meta-gradient cleaning (least often kept dropped)"}


@dataclasses.dataclass(frozen=True)
class ReweightConfig(Config):
    widths: tuple[int, ...] = option((8, 16, 27, 36, 47, 61, 80, 135, 300),
                                     tuple_of(integer(1, 10_000), unique=True, increasing=True), "MLP hidden widths")
    seeds: tuple[int, ...] = option((0, 1, 2), tuple_of(integer(0, 2**31 - 1), unique=True), "seeds per width")
    noise: float = option(0.15, fraction(hi_open=False), "label-noise rate")
    n_clean: int = option(200, integer(10, 2000), "training rows kept clean as the meta-objective's validation set")
    clean_seed: int = option(0, integer(0, 2**32 - 1), "which rows are the clean validation set")
    estimator: str = option("exact", choice(*ESTIMATORS), "meta-gradient of the look-ahead (the same numbers)")
    epochs: int = option(500, integer(1, 1_000_000), "training epochs")
    learning_rate: float = option(0.01, positive(1e3), "SGD learning rate (and look-ahead step)")
    momentum: float = option(0.9, real(0.0, 1.0, hi_open=True), "SGD momentum")
    batch_size: int = option(100, integer(1, 1000), "examples per batch")
    lowest: float = option(0.15, fraction(lo_open=True), "share of lowest-weighted examples scored for noise")
    data_seed: int = option(42, integer(0, 2**32 - 1), "dataset (and label-noise) seed")
    max_buckets: int = option(4, integer(1, 100), "at most this many width buckets")
    meta_lrs: tuple[float, ...] = option((1e-4, 1e-3, 1e-2), tuple_of(positive(10.0), unique=True),
                                         "MW-Net Adam learning rates tried (chosen on the clean validation rows)")
    prune_fractions: tuple[float, ...] = option((0.0, 0.05, 0.1, 0.15, 0.2), tuple_of(fraction(), unique=True),
                                                "least often kept shares dropped before plain retraining (tried)")
    select_seed: int = option(0, integer(0, 2**31 - 1), "the one seed of the settings' tries (validation rows)")


Config = ReweightConfig
QUICK = ReweightConfig(widths=(3, 6), seeds=(0,), epochs=1, meta_lrs=(1e-3, 1e-2), prune_fractions=(0.0, 0.1))
PAPER_SEEDS: dict = {}
