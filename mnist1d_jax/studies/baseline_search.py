"""The validation-only search behind the improved baselines (``core.recipes``): not a figure of the paper.

Protocol: hold out 10 % of the frozen training set (``val_seed``) for validation. For each candidate
architecture of ``core.recipes.CANDIDATES`` (a static shape: one compile each), a grid of learning rate x
weight decay x seeds runs as *one* vmapped program (the scalars are traced) under the modern protocol with a
cosine decay; candidates are ranked by the mean over seeds of the best validation accuracy. Test accuracies are
never computed. The winners are copied into ``core.recipes.CHOSEN`` by hand, with how they were chosen.
Seeds ``seed .. seed + seeds - 1`` are disjoint from the benchmark study's evaluation seeds.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

import jax
import numpy as np

from mnist1d_jax.core import recipes
from mnist1d_jax.core.grid import best_validation_accuracy
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.runtime.validation import Config, choice, fraction, integer, option, positive, real, text, tuple_of

NAME = "baseline_search"
TITLE = "Validation-only search for the improved baselines"
ORIGINAL_MINUTES = None


@dataclasses.dataclass(frozen=True)
class BaselineSearchConfig(Config):
    kinds: tuple[str, ...] = option(("cnn", "mlp"), tuple_of(choice("cnn", "mlp"), unique=True), "model kinds")
    candidates: tuple[str, ...] = option((), tuple_of(text, min_len=0, unique=True),
                                         "only these candidates of core.recipes (default: all)")
    seeds: int = option(2, integer(1, 1000), "seeds per grid point")
    seed: int = option(1000, integer(0, 2**31 - 1000), "first seed")
    total_steps: int = option(6000, integer(1, 10_000_000), "T of every run")
    eval_every: int = option(250, integer(1), "evaluate every this many steps")
    learning_rates: tuple[float, ...] = option(recipes.LEARNING_RATES, tuple_of(positive(1e3), unique=True),
                                               "learning rates of the grid")
    weight_decays: tuple[float, ...] = option(recipes.WEIGHT_DECAYS, tuple_of(real(0.0, 10.0), unique=True),
                                              "weight decays of the grid")
    val_fraction: float = option(0.1, fraction(lo_open=True), "held out for validation")
    val_seed: int = option(0, integer(0, 2**32 - 1), "which examples are held out")


Config = BaselineSearchConfig
QUICK = BaselineSearchConfig(kinds=("mlp",), candidates=("mlp256-prelu-shift3",), seeds=1, total_steps=10,
                             eval_every=5, learning_rates=(1e-2,))
PAPER_SEEDS: dict = {}


def run(config: BaselineSearchConfig, ctx) -> dict:
    """Rows ``{"candidate", "learning_rate", "weight_decay", "val_acc_mean", "val_acc_seeds"}`` per kind, best
    first; each searched candidate is kept in ``ctx.store``."""
    data = prepare_data(make_dataset(), config.val_fraction, config.val_seed, classes=ctx.classes)
    grid = list(itertools.product(config.learning_rates, config.weight_decays))
    keys = jax.random.split(jax.random.key(config.seed), config.seeds)
    base = dataclasses.replace(recipes.SEARCH, total_steps=config.total_steps,
                               eval_every=min(config.eval_every, config.total_steps))
    rows: dict[str, list[dict]] = {}
    todo = [(kind, name, overrides) for kind in config.kinds for name, overrides in recipes.CANDIDATES[kind]
            if not config.candidates or name in config.candidates]
    bar = ctx.bar(len(todo), "candidates", "candidate")
    for kind, name, overrides in todo:
        train_config = recipes.candidate_config(overrides, base)
        tag = {"train": dataclasses.asdict(train_config), "grid": grid, "seeds": config.seeds, "seed": config.seed,
               "val": [config.val_fraction, config.val_seed]}
        mine = ctx.store.get(name, tag)
        if mine is None:
            t0 = time.perf_counter()
            val = np.asarray(best_validation_accuracy(keys, data, train_config, [g[0] for g in grid],
                                                      [g[1] for g in grid]))  # (G, S)
            mine = [{"candidate": name, "learning_rate": lr, "weight_decay": wd, "val_acc_mean": float(v.mean()),
                     "val_acc_seeds": v.tolist(), "seconds": time.perf_counter() - t0}
                    for (lr, wd), v in zip(grid, val, strict=True)]
            ctx.store.put(name, tag, mine)
        rows.setdefault(kind, []).extend(mine)
        ctx.log(f"searched {name}: best val {max(r['val_acc_mean'] for r in mine):.2f}")
        bar.update()
    bar.close()
    return {"rows": {k: sorted(v, key=lambda r: -r["val_acc_mean"]) for k, v in rows.items()}}


def report_rows(record: dict) -> list[dict]:
    return [{"quantity": f"best {kind} candidate on validation", "paper": "-",
             "ours": f"{r[0]['candidate']} at lr {r[0]['learning_rate']:g}, wd {r[0]['weight_decay']:g}: val "
                     f"{r[0]['val_acc_mean']:.2f} %"} for kind, r in record["rows"].items() if r]


def draw(record: dict, out: Path) -> list[Path]:
    """``baseline_search.png``: mean best validation accuracy of every (candidate, learning rate, weight decay)."""

    kinds = [k for k, r in record["rows"].items() if r]
    fig, axes = new_figure(1, max(1, len(kinds)), figsize=(6 * max(1, len(kinds)), 3.5), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=False):
        rows = record["rows"][kind][::-1]
        labels = [f"{r['candidate']} lr {r['learning_rate']:g} wd {r['weight_decay']:g}" for r in rows]
        ax.barh(range(len(rows)), [r["val_acc_mean"] for r in rows], color="tab:blue")
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        lo = min(r["val_acc_mean"] for r in rows)
        ax.set_xlim(max(0.0, lo - 5), 100)
        ax.set(xlabel="best validation accuracy, mean over seeds (%)", title=f"{kind}: validation-only search")
    return [save_figure(fig, Path(out) / "baseline_search.png")]
