"""The double-descent study's settings: the protocol's constants, the panels and the validated config (defaults:
the paper's protocol)."""

from __future__ import annotations

import dataclasses

from mnist1d_jax.core.sweeps import SweepConfig, default_cnn_channels, default_mlp_widths
from mnist1d_jax.runtime.validation import (
    Config,
    boolean,
    choice,
    fraction,
    integer,
    option,
    optional,
    positive,
    real,
    tuple_of,
)

NAME = "double_descent"
TITLE = "Deep double descent (Fig. 4)"
ORIGINAL_MINUTES = 46.0
# A class subset (data.classes) is refused: the original label noise draws from all ten digits.
REFUSES_CLASS_SUBSET = ("its label noise replays the original notebook's draws over all 4,000 training labels "
                        "and relabels examples with any of the ten digits, putting held-out digits back into "
                        "training")

N_TRAIN, N_CLASSES = 4000, 10
PANELS = ("mlp_clean", "mlp_noisy", "cnn_noisy", "mlp_noisy_mse")


_WIDTHS = tuple_of(integer(1, 10_000), unique=True, increasing=True)
_SEEDS = tuple_of(integer(0, 2**31 - 1), unique=True)


@dataclasses.dataclass(frozen=True)
class DoubleDescentConfig(Config):
    """The paper's protocol; ``mse_extra_widths`` extend the MSE sweep past n·K parameters."""

    seeds: tuple[int, ...] = option((0, 1, 2), _SEEDS, "seeds of every panel (unless cnn_seeds / mse_seeds)")
    mlp_widths: tuple[int, ...] = option(tuple(default_mlp_widths()), _WIDTHS, "MLP widths")
    cnn_channels: tuple[int, ...] = option(tuple(default_cnn_channels()), _WIDTHS, "CNN channel counts")
    mse_extra_widths: tuple[int, ...] = option((400,), tuple_of(integer(1, 10_000), min_len=0, unique=True),
                                               "extra widths of the MSE panel")
    panels: tuple[str, ...] = option(PANELS, tuple_of(choice(*PANELS), unique=True), "panels to run")
    noise: float = option(0.15, fraction(hi_open=False), "label-noise rate of the noisy panels")
    epochs: int = option(500, integer(1, 1_000_000), "training epochs")
    learning_rate: float = option(0.01, positive(1e3), "SGD learning rate")
    momentum: float = option(0.9, real(0.0, 1.0, hi_open=True), "SGD momentum")
    batch_size: int = option(100, integer(1, 4000), "examples per batch")
    data_seed: int = option(42, integer(0, 2**32 - 1), "dataset (and label-noise) seed")
    max_buckets: int = option(8, integer(1, 100), "at most this many width buckets per panel")
    bucket_overhead: float = option(0.02, real(0.0, 10.0), "one more bucket's compile cost, as a fraction of "
                                    "the panel's work")
    smallest_first: bool = option(False, boolean, "train the cheapest buckets first (a run cut short keeps the small "
                                  "widths)")
    cnn_seeds: tuple[int, ...] | None = option(None, optional(_SEEDS), "seeds of the CNN panel (default: seeds)")
    mse_seeds: tuple[int, ...] | None = option(None, optional(_SEEDS), "seeds of the MSE panel (default: seeds)")

    def sweep(self, loss: str) -> SweepConfig:
        return SweepConfig(learning_rate=self.learning_rate, momentum=self.momentum, batch_size=self.batch_size,
                           epochs=self.epochs, loss=loss)

    def panel_seeds(self, panel: str) -> list[int]:
        special = {"cnn_noisy": self.cnn_seeds, "mlp_noisy_mse": self.mse_seeds}.get(panel)
        return list(special or self.seeds)

    def panel_spec(self, panel: str) -> tuple[str, list[int], bool, str]:
        """(model, widths, noisy labels?, loss) of a panel."""
        return {
            "mlp_clean": ("mlp", list(self.mlp_widths), False, "nll"),
            "mlp_noisy": ("mlp", list(self.mlp_widths), True, "nll"),
            "cnn_noisy": ("cnn", list(self.cnn_channels), True, "nll"),
            "mlp_noisy_mse": ("mlp", sorted(set(self.mlp_widths) | set(self.mse_extra_widths)), True, "mse"),
        }[panel]


Config = DoubleDescentConfig
QUICK = DoubleDescentConfig(seeds=(0,), mlp_widths=(3,), cnn_channels=(2,), mse_extra_widths=(), epochs=1)
PAPER_SEEDS = {"seeds": (0,)}


def label_of(config: DoubleDescentConfig) -> str:
    """"full" for the paper's protocol, else what differs from it (shown on the figure)."""
    changed = [f"{f.name}={getattr(config, f.name)}" for f in dataclasses.fields(config)
               if f.name not in ("max_buckets", "bucket_overhead", "smallest_first")
               and getattr(config, f.name) != f.default]
    return "full protocol" if not changed else "SUBSET of the paper protocol: " + ", ".join(changed)


def total_points(config: DoubleDescentConfig) -> int:
    """(width, seed) points of a run, for the progress bar."""
    return sum(len(config.panel_spec(p)[1]) * len(config.panel_seeds(p)) for p in config.panels)
