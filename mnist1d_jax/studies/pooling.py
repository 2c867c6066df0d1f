"""Pooling vs training-set size (EXPERIMENTS.md §7; paper Fig. 7 and its all-sizes appendix version).

Five two-layer CNNs (20 channels, kernel 3, pad 1) that differ only in how they shrink the sequence — no
pooling, stride 2, max, average and L2 pooling — trained with harness H on 1,000 to 50,000 examples (always
1,000 test examples). Every variant starts from the same initialisation key, so their convolution weights are
identical, as in the original. Each (size, variant) runs its seeds as one vmapped program.

The paper's claim: pooling helps a lot with little data and its advantage shrinks with more data. It also
suggests pooling *hurts* at high data and that L2 beats max there; we report whether those hold.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import numpy as np
from tqdm import tqdm

from mnist1d_jax.backend import main_on_all_cores
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.report.figures import save_figure
from mnist1d_jax.report.results import mean_std, provenance, read_json, write_json
from mnist1d_jax.studies.common import study_parser

# name -> CNN fields (EXPERIMENTS.md §7 table). Dense inputs: 800 for no_pool, 200 for the others.
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


@dataclass(frozen=True)
class PoolingConfig:
    sizes: tuple[int, ...] = (1000, 2000, 5000, 10000, 20000, 50000)
    seeds: int = 3
    total_steps: int = 6000
    eval_every: int = 100
    learning_rate: float = 1e-2
    batch_size: int = 100
    test_size: int = 1000
    init_seed: int = 0


def dataset_config(train_size: int, test_size: int = 1000) -> DatasetConfig:
    """Seed-42 data with exactly `train_size` training and `test_size` test examples (§7)."""
    n = train_size + test_size
    return DatasetConfig(num_samples=n, train_split=1 - test_size / n)


def train_config(variant: str, config: PoolingConfig):
    from mnist1d_jax.core.runs import TrainConfig

    fields = {"channels": (20, 20), "kernel_sizes": (3, 3), **VARIANTS[variant]}
    return TrainConfig(model="cnn", model_kwargs=tuple(fields.items()), total_steps=config.total_steps,
                       eval_every=config.eval_every, learning_rate=config.learning_rate,
                       batch_size=config.batch_size)


def run(config: PoolingConfig, out: Path) -> dict:
    """Train every (size, variant) over the seeds; results are saved after every size (resumable)."""
    from mnist1d_jax.core.runs import train_seeds
    from mnist1d_jax.data.splits import prepare_data

    path = out / "pooling.json"
    record = read_json(path) if path.exists() else {}
    if record.get("config") != asdict(config) or record.get("complete"):
        record = {"study": "pooling", "config": asdict(config), "runs": {}}
    # The same init keys for every variant: identical conv weights, as the original's torch seed 0.
    keys = jax.random.split(jax.random.key(config.init_seed), config.seeds)
    todo = [(s, v) for s in config.sizes for v in VARIANTS if f"{s}/{v}" not in record["runs"]]
    for size, variant in tqdm(todo, desc="pooling (size, variant)", unit="run"):
        data_config = dataset_config(size, config.test_size)
        data = prepare_data(make_dataset(data_config))
        if data.x.shape[0] != size:
            raise RuntimeError(f"{data_config} gives {data.x.shape[0]} training examples, not {size}")
        start = time.perf_counter()
        _, metrics, summary = train_seeds(keys, data, train_config(variant, config))
        record["runs"][f"{size}/{variant}"] = {
            "test_acc": np.asarray(metrics["test_acc"]),  # (seeds, evals)
            "train_acc": np.asarray(metrics["train_acc"]),
            "final_test_acc": np.asarray(summary["final_test_acc"]),
            "seconds": time.perf_counter() - start,
        }
        record["step"] = np.asarray(metrics["step"][0])
        write_json(path, record | {"provenance": provenance()})
    record["complete"] = True
    record["provenance"] = provenance()
    write_json(path, record)
    return record


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


def draw(out: Path) -> list[Path]:
    """pooling.png (1k, 5k, 50k, the paper's main figure) and pooling_all_sizes.png, from pooling.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    record = read_json(out / "pooling.json")
    step = np.asarray(record["step"])
    table = final_table(record)
    paths = []
    for name, sizes, ylims in (
        ("pooling.png", (1000, 5000, 50000), ((30, 85), (80, 100), (90, 100))),
        ("pooling_all_sizes.png", tuple(sorted(table)), None),
    ):
        sizes = [s for s in sizes if s in table]
        fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
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
        paths.append(save_figure(fig, out / name))
    return paths


def summarize(record: dict) -> list[dict]:
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


def main(argv=None) -> int:
    parser = study_parser("Pooling vs training-set size (paper Fig. 7)",
                          quick_help="1,000 examples, 1 seed, 20 steps: a smoke test", seeds=PoolingConfig.seeds)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.redraw:
        config = PoolingConfig(seeds=args.seeds)
        if args.quick:
            config = PoolingConfig(sizes=(1000,), seeds=1, total_steps=20, eval_every=10)
        record = run(config, args.out)
        for size, row in final_table(record).items():
            print(size, {v: f"{m:.1f}" for v, (m, _) in row.items()})
        print(claims(record))
    for path in draw(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
