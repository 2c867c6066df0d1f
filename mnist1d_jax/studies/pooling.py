"""Pooling vs training-set size (paper Fig. 7 and its all-sizes appendix version).

Protocol: five two-layer CNNs (20 channels, kernel 3, pad 1; then a linear head) that differ only in how they
shrink the sequence: no pooling, stride 2, and max, average or L2 pooling (windows of 2, stride 2; L2 is the
square root of the *sum* of squares, with a zero slope where the sum is 0). Each is trained under the original
harness (Adam 0.01, batch 100, T = 6,000, evaluation every 100 steps) on seed-42 data with 1,000, 2,000,
5,000, 10,000, 20,000 or 50,000 training examples and always 1,000 test examples; every variant starts from
the same initialisation key, so their convolution weights are identical, as in the original. Each variant
trains every size and seed as one vmapped program (the training sets padded to the largest, the harness's
sequential batches taken from each set's own N rows), so the study compiles five programs, not thirty. The
training accuracy at each evaluation point is measured on the first 1,000 training examples: the original
measures the whole training set, which at 50,000 examples costs more than the training itself, and the figure
and the report use only the test accuracy (always the whole test set). The figure smooths each curve with a
Gaussian of one evaluation point.

The paper's 2024 run, final test accuracy (no pooling / stride / max / avg / L2): 59.2 / 57.4 / 78.2 / 78.0 /
77.2 at 1,000 examples, 96.3 / 95.4 / 98.1 / 97.3 / 97.1 at 50,000. Its claim: pooling helps a lot with little
data and its advantage shrinks with more data. It also suggests pooling *hurts* at high data and that L2 beats
max there; we report whether those hold.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import jax
import numpy as np

from mnist1d_jax.core.evaluation import leading_rows_metrics
from mnist1d_jax.core.loop import eval_points
from mnist1d_jax.core.parallel import replicate, spread_leading, take_leading
from mnist1d_jax.core.runs import TrainConfig, train
from mnist1d_jax.core.schedules import Sequential
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.data.splits import Data, prepare_data
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.runtime.precision import use_precision
from mnist1d_jax.runtime.results import mean_std
from mnist1d_jax.runtime.validation import Config, fail, integer, option, positive, tuple_of

NAME = "pooling"
TITLE = "Pooling vs training-set size (Fig. 7)"
ORIGINAL_MINUTES = 15.0

# name -> CNN fields. Dense inputs: 800 for no_pool, 200 for the others (9,310 and 3,310 parameters).
VARIANTS = {
    "no_pool": {"strides": (1, 1), "pool": None},
    "stride_2": {"strides": (2, 2), "pool": None},
    "max_pool": {"strides": (1, 1), "pool": "max"},
    "avg_pool": {"strides": (1, 1), "pool": "avg"},
    "l2_pool": {"strides": (1, 1), "pool": "l2"},
}
STYLES = {"no_pool": ("black", "-"), "stride_2": ("black", "--"), "max_pool": ("tab:red", "-"),
          "avg_pool": ("tab:green", "-"), "l2_pool": ("tab:blue", "-")}
# The 2024 saved run's test accuracy at step 6000 (%), for the report.
PAPER = {1000: (59.2, 57.4, 78.2, 78.0, 77.2), 2000: (82.0, 81.7, 89.2, 90.0, 89.9),
         5000: (91.9, 89.9, 94.5, 94.0, 95.3), 10000: (94.3, 91.3, 97.0, 96.0, 96.6),
         20000: (94.4, 92.2, 96.8, 96.2, 97.8), 50000: (96.3, 95.4, 98.1, 97.3, 97.1)}


@dataclasses.dataclass(frozen=True)
class PoolingConfig(Config):
    sizes: tuple[int, ...] = option((1000, 2000, 5000, 10000, 20000, 50000),
                                    tuple_of(integer(100, 10_000_000), unique=True, increasing=True),
                                    "training-set sizes")
    seeds: int = option(3, integer(1, 10_000), "seeds per (size, variant), one vmapped call")
    total_steps: int = option(6000, integer(1, 10_000_000), "T: the harness makes T + 1 updates")
    eval_every: int = option(100, integer(1), "evaluate every this many steps")
    learning_rate: float = option(1e-2, positive(1e3), "Adam's learning rate")
    batch_size: int = option(100, integer(1), "examples per batch")
    test_size: int = option(1000, integer(10, 10_000_000), "test examples of every dataset")
    init_seed: int = option(0, integer(0, 2**31 - 1), "the variants' shared initialisation seed")
    train_eval_examples: int = option(1000, integer(1, 10_000_000),
                                      "training accuracy is measured on the first this many training examples")

    def _check(self) -> None:
        if self.batch_size > min(self.sizes):
            fail(self, "batch_size", self.batch_size, f"must be <= the smallest training set ({min(self.sizes)})")
        if self.eval_every > self.total_steps:
            fail(self, "eval_every", self.eval_every, f"must be <= total_steps={self.total_steps}")
        for size in self.sizes:
            if (size + self.test_size) % 10:
                fail(self, "sizes", self.sizes, "every size + test_size must be a multiple of 10 (one tenth per "
                     "class)")


Config = PoolingConfig
QUICK = PoolingConfig(sizes=(1000,), seeds=1, total_steps=20, eval_every=10)
PAPER_SEEDS = {"seeds": 1}


def dataset_config(train_size: int, test_size: int = 1000) -> DatasetConfig:
    """Seed-42 data with exactly `train_size` training and `test_size` test examples."""
    n = train_size + test_size
    return DatasetConfig(num_samples=n, train_split=1 - test_size / n)


def train_config(variant: str, config: PoolingConfig) -> TrainConfig:
    fields = {"channels": (20, 20), "kernel_sizes": (3, 3), **VARIANTS[variant]}
    return TrainConfig(model="cnn", model_kwargs=tuple(fields.items()), total_steps=config.total_steps,
                       eval_every=config.eval_every, learning_rate=config.learning_rate,
                       batch_size=config.batch_size)


def size_data(size: int, config: PoolingConfig, classes=None) -> Data:
    """The seed-42 dataset of one training-set size (under a class subset, ``data.classes``: its kept rows)."""
    data_config = dataset_config(size, config.test_size)
    generated = make_dataset(data_config)
    if len(generated.x) != size:
        raise RuntimeError(f"{data_config} gives {len(generated.x)} training examples, not {size}")
    return prepare_data(generated, classes=classes)


def _pad(a: np.ndarray, rows: int) -> np.ndarray:
    return np.concatenate([a, np.zeros((rows - len(a), *a.shape[1:]), a.dtype)])


def padded_sizes(datas: list[Data], config: PoolingConfig) -> dict[str, np.ndarray]:
    """Every size's data padded to the largest and stacked on a leading size axis S, with the valid row counts.

    ``x (S, N_max, 40)``, ``y (S, N_max)``, ``rows (S,)``; the training-accuracy subset ``x_eval (S, E, 40)``,
    ``y_eval``, ``n_eval (S,)`` (the first E = ``train_eval_examples`` training examples of each size); the test
    set ``x_test (S, M_max, 40)``, ``y_test``, ``n_test (S,)``.
    """
    n_max = max(len(d.x) for d in datas)
    m_max = max(len(d.x_test) for d in datas)
    e = min(config.train_eval_examples, n_max)
    sets = {"x": [], "y": [], "rows": [], "x_eval": [], "y_eval": [], "n_eval": [], "x_test": [], "y_test": [],
            "n_test": []}
    for d in datas:
        x, y, x_test, y_test = (np.asarray(a) for a in (d.x, d.y, d.x_test, d.y_test))
        sets["x"].append(_pad(x, n_max))
        sets["y"].append(_pad(y, n_max))
        sets["rows"].append(len(x))
        sets["x_eval"].append(_pad(x[:e], e))
        sets["y_eval"].append(_pad(y[:e], e))
        sets["n_eval"].append(min(e, len(x)))
        sets["x_test"].append(_pad(x_test, m_max))
        sets["y_test"].append(_pad(y_test, m_max))
        sets["n_test"].append(len(x_test))
    return {k: np.asarray(v, np.int32) if k.startswith(("rows", "n_")) else np.stack(v) for k, v in sets.items()}


@functools.partial(jax.jit, static_argnames=("config",))
def _train_sizes(keys, sets, config: TrainConfig):
    """One variant at every size and seed: ``vmap`` over sizes (the leading axis of ``sets``) of ``vmap`` over
    ``keys (seeds,)``; outputs ``(S, seeds, ...)``."""

    def one(key, s):
        data = Data(s["x"], s["y"], s["x_test"], s["y_test"])
        schedule = Sequential(s["x"], s["y"], config.batch_size, rows=s["rows"])
        evaluate = leading_rows_metrics({"train": (s["x_eval"], s["y_eval"], s["n_eval"]),
                                         "test": (s["x_test"], s["y_test"], s["n_test"])})
        _, metrics, summary = train(key, data, config, schedule=schedule, evaluate=evaluate)
        return {"test_acc": metrics["test_acc"], "train_acc": metrics["train_acc"],
                "final_test_acc": summary["final_test_acc"]}

    return jax.vmap(lambda s: jax.vmap(lambda k: one(k, s))(keys))(sets)


def train_variant(keys, sets: dict[str, np.ndarray], config: TrainConfig) -> dict[str, np.ndarray]:
    """`_train_sizes` with the size axis split over the devices; NumPy outputs ``(S, seeds, ...)``."""
    spread, n = spread_leading(sets)
    with use_precision(config.precision):  # around the call: the jit's cache key and lowering see it
        out = take_leading(_train_sizes(replicate(keys), spread, config), n)
    return {k: np.asarray(v) for k, v in out.items()}


def run(config: PoolingConfig, ctx) -> dict:
    """Train every variant at every size over the seeds, one program per variant; each finished variant is
    kept in ``ctx.store`` (resumable)."""
    # The same init keys for every variant and size: identical conv weights, as the original's torch seed 0.
    keys = jax.random.split(jax.random.key(config.init_seed), config.seeds)
    tag = dataclasses.asdict(config)  # what one variant's runs depend on
    step = np.asarray(eval_points(config.total_steps + 1, config.eval_every, 0), np.int32)
    sets = None
    runs, seconds = {}, {}
    bar = ctx.bar(len(VARIANTS), "pooling variants (every size in one program)", "variant")
    for variant in VARIANTS:
        done = ctx.store.get(variant, tag)
        if done is None:
            if sets is None:  # generated once, shared by the variants
                sets = padded_sizes([size_data(size, config, ctx.classes) for size in config.sizes],
                                     config)
            start = time.perf_counter()
            done = {**train_variant(keys, sets, train_config(variant, config)),
                    "seconds": time.perf_counter() - start}
            ctx.store.put(variant, tag, done)
        seconds[variant] = float(done["seconds"])
        for i, size in enumerate(config.sizes):
            runs[f"{size}/{variant}"] = {k: np.asarray(done[k][i]) for k in ("test_acc", "train_acc",
                                                                               "final_test_acc")}
        bar.update()
    bar.close()
    return {"runs": runs, "step": step, "seconds_per_variant": seconds, "complete": True}


def final_table(record: dict) -> dict[int, dict[str, tuple[float, float]]]:
    """size -> variant -> (mean, std) of the final test accuracy over seeds."""
    table = {}
    for key, run in record["runs"].items():
        size, variant = key.split("/")
        acc = np.asarray(run["final_test_acc"])
        table.setdefault(int(size), {})[variant] = (float(acc.mean()), float(acc.std()))
    return table


def claims(record: dict) -> dict:
    """Does pooling's advantage shrink with data? Does it hurt at the largest size? Does L2 beat max there?"""
    table = final_table(record)
    sizes = sorted(s for s in table if set(VARIANTS) <= set(table[s]))  # sizes with every variant finished
    pooled = ("max_pool", "avg_pool", "l2_pool")
    if len(sizes) < 2:
        return {"complete_sizes": sizes, "advantage_shrinks": None, "pooling_hurts_at_largest_size": None,
                "l2_beats_max_at_largest_size": None}
    advantage = {s: max(table[s][v][0] for v in pooled) - table[s]["no_pool"][0] for s in sizes}
    big = sizes[-1]
    return {
        "complete_sizes": sizes,
        "advantage_of_best_pooling_over_no_pooling": advantage,
        "advantage_shrinks": advantage[big] < advantage[sizes[0]],
        "pooling_hurts_at_largest_size": all(table[big][v][0] < table[big]["no_pool"][0] for v in pooled),
        "l2_beats_max_at_largest_size": table[big]["l2_pool"][0] > table[big]["max_pool"][0],
    }


def _smooth(curve: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(curve, sigma=1, mode="reflect")


def draw(record: dict, out: Path) -> list[Path]:
    """pooling.png (1k, 5k, 50k, the paper's main figure) and pooling_all_sizes.png, from the record."""

    step = np.asarray(record["step"])
    table = final_table(record)
    paths = []
    for name, sizes, ylims in (
        ("pooling.png", (1000, 5000, 50000), ((30, 85), (80, 100), (90, 100))),
        ("pooling_all_sizes.png", tuple(sorted(table)), None),
    ):
        sizes = [s for s in sizes if s in table]
        fig, axes = new_figure(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
        for i, (ax, size) in enumerate(zip(axes[0], sizes, strict=True)):
            for variant, (color, style) in STYLES.items():
                run = record["runs"].get(f"{size}/{variant}")
                if run is None:
                    continue
                acc = np.asarray(run["test_acc"])
                mean, std = table[size][variant]
                ax.plot(step, _smooth(acc.mean(0)), color=color, ls=style, label=f"{variant} ({mean:.1f})")
            ax.set_title(f"{size:,} training examples", fontsize=10)
            ax.set_xlabel("step")
            if ylims:
                ax.set_ylim(*ylims[i])
            ax.legend(fontsize=7, loc="lower right")
        axes[0, 0].set_ylabel("test accuracy (%)")
        total = len(record["config"]["sizes"]) * len(VARIANTS)
        partial = "" if record.get("complete") else f"; PARTIAL: {len(record['runs'])} of {total} runs so far"
        fig.suptitle(f"Pooling vs data (mean of {record['config']['seeds']} seeds; final accuracy in brackets"
                     f"{partial})", fontsize=11)
        paths.append(save_figure(fig, Path(out) / name))
    return paths


def report_rows(record: dict) -> list[dict]:
    table = final_table(record)
    rows = []
    for size in sorted(table):
        ours = ", ".join(f"{v.split('_')[0]} {mean_std(record['runs'][f'{size}/{v}']['final_test_acc'])}"
                         for v in VARIANTS if v in table[size])
        paper = ", ".join(f"{v.split('_')[0]} {a}" for v, a in zip(VARIANTS, PAPER.get(size, ()), strict=False))
        rows.append({"quantity": f"final test accuracy, {size:,} examples (%)", "paper": paper or "n/a",
                     "ours": ours})
    c = claims(record)
    largest = f" ({c['complete_sizes'][-1]:,} examples)" if c["complete_sizes"] else ""
    rows += [
        {"quantity": "pooling's advantage shrinks with data", "paper": "yes", "ours": str(c["advantage_shrinks"])},
        {"quantity": f"pooling hurts at the largest finished size{largest}",
         "paper": "suggested, not in the saved runs", "ours": str(c["pooling_hurts_at_largest_size"])},
        {"quantity": f"L2 beats max at the largest finished size{largest}",
         "paper": "suggested, not in the saved runs", "ours": str(c["l2_beats_max_at_largest_size"])},
    ]
    return rows
