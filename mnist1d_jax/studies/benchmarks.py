"""Table 1 and the benchmark figure: logistic, MLP, CNN, GRU x {default, shuffled} x seeds; improved baselines.

Protocol (the original harness): Adam 0.01, batch 100 in a fixed sequential order (batch s = examples
``(100 s) mod 4000``, never shuffled), T = 6,000 (6,001 updates), test and train accuracy after every 250th
update (step 0 included), no early stopping, no validation split. Models: logistic regression (410
parameters); an MLP with a residual second layer, width 100 (15,210); a CNN of three stride-2 convolutions of
25 channels (5,210); a bidirectional GRU of hidden size 6 (5,134). "Shuffled" MNIST-1D is the 2024 benchmark
figure's: the frozen data with its 40 columns permuted by ``np.random.seed(42); permutation(40)``, the same for
train and test (the 2020 Table 1 regenerated the data with ``shuffle_seq=True`` instead).

The paper's Table 1 (test %): 32 / 68 / 94 / 91 for logistic / MLP / CNN / GRU, 32 / 68 / 56 / 57 shuffled;
human 96. Its numbers match the best evaluation of each test curve (a checkpoint chosen on the test set), so
per seed we report three test accuracies: **final** (step 6,000), **best** over the 25 evaluations, and a
leakage-free **validation-selected** one (a separate run on 90 % of the training set, reporting the test
accuracy at the evaluation with the best accuracy on the held-out 10 %); and optionally the **modern**
protocol (a fresh permutation every epoch, the same split and selection). Every (model, dataset) cell is one
compiled program vmapped over the seeds.

Improved baselines (``core.recipes``): recipes chosen on a validation split only, against the independent
review's CNN 96.8 +- 0.5 % and MLP 73.3 +- 1.4 %.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from mnist1d_jax.core import recipes
from mnist1d_jax.core.runs import TrainConfig, train_seeds
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.data.splits import SHUFFLE_PERMUTATION, prepare_data
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.runtime.results import atomic_write, mean_std, seeds_text
from mnist1d_jax.runtime.validation import Config, boolean, choice, fail, fraction, integer, option, positive, tuple_of

NAME = "benchmarks"
TITLE = "Table 1 and the benchmark figure (Fig. 2), improved baselines"
ORIGINAL_MINUTES = 4.0

PAPER = {  # Table 1 (test accuracy %, mean +- spread); shuffled spreads as the default ones
    "default": {"logistic": (32, 1), "mlp": (68, 2), "cnn": (94, 2), "gru": (91, 2)},
    "shuffled": {"logistic": (32, 1), "mlp": (68, 2), "cnn": (56, 2), "gru": (57, 2)},
}
REVIEW = {"cnn": (96.8, 0.5), "mlp": (73.3, 1.4)}  # the independent review's improved baselines (100 seeds)
# The port's acceptance bands (best over evaluations), set by the original notebook's saved 2020 and 2024 runs
# (see SAVED_RUNS); a mean outside the paper's ± but inside this band gets a note saying so in REPORT.md.
BAND = {
    "default": {"logistic": (31, 33), "mlp": (64, 69), "cnn": (92, 95), "gru": (89, 92)},
    "shuffled": {"logistic": (31, 33), "mlp": (64, 69), "cnn": (53, 60), "gru": (53, 60)},
}
SAVED_RUNS = {  # what the original notebook's saved runs reached, quoted beside a note
    "mlp": "the 2024 MLP run peaked at ~66",
    "cnn": "the shuffled CNN runs reached 58.3 (2020) and 58.7 (2024) at step 6,000",
    "gru": "the shuffled GRU runs reached 57.2 (2020) and 56.8 (2024) at step 1,000, their best saved point",
}
HUMAN = 95.8
COLORS = {"logistic": "tab:blue", "mlp": "tab:orange", "cnn": "tab:green", "gru": "tab:red"}


_MODELS = choice("logistic", "mlp", "cnn", "gru")


@dataclasses.dataclass(frozen=True)
class BenchmarksConfig(Config):
    """The study's knobs; defaults are the paper's (Adam 1e-2, batch 100, T = 6000, eval every 250)."""

    models: tuple[str, ...] = option(("logistic", "mlp", "cnn", "gru"), tuple_of(_MODELS, unique=True),
                                     "the Table-1 models")
    datasets: tuple[str, ...] = option(("default", "shuffled"), tuple_of(choice("default", "shuffled"),
                                       unique=True), "default and/or column-shuffled data")
    seeds: int = option(10, integer(1, 10_000), "seeds per cell, one vmapped call")
    seed: int = option(0, integer(0, 2**31 - 2), "seed i uses jax.random.split(jax.random.key(seed), seeds)[i]")
    total_steps: int = option(6000, integer(1, 10_000_000), "T: the harness makes T + 1 updates")
    eval_every: int = option(250, integer(1), "evaluate every this many steps")
    learning_rate: float = option(1e-2, positive(1e3), "Adam's learning rate")
    batch_size: int = option(100, integer(1, 3600), "examples per batch")
    val_fraction: float = option(0.1, fraction(lo_open=True), "held out for the validation-selected number")
    val_seed: int = option(0, integer(0, 2**32 - 1), "which examples are held out")
    modern: bool = option(True, boolean, "also run the modern protocol (per-epoch shuffles)")
    improved: tuple[str, ...] = option(("cnn", "mlp"), tuple_of(choice("cnn", "mlp"), min_len=0, unique=True),
                                       "improved baselines to run (core.recipes)")
    improved_seeds: int = option(10, integer(1, 10_000), "seeds of each improved baseline")
    improved_steps: int = option(6000, integer(1, 10_000_000), "T of the improved baselines")

    def _check(self) -> None:
        if self.eval_every > self.total_steps:
            fail(self, "eval_every", self.eval_every, f"must be <= total_steps={self.total_steps}")
        if self.batch_size > int(4000 * (1 - self.val_fraction)):
            fail(self, "batch_size", self.batch_size, "must fit in the training examples left after validation")


Config = BenchmarksConfig
QUICK = BenchmarksConfig(seeds=2, total_steps=20, eval_every=10, improved_seeds=2, improved_steps=20)
PAPER_SEEDS = {"seeds": 1, "improved_seeds": 1}


def _summaries(metrics, summary, keys=("final_test_acc", "best_test_acc", "selected_test_acc")) -> dict:
    return {k: np.asarray(summary[k]).tolist() for k in keys if k in summary}


def table1_train_config(config: BenchmarksConfig) -> TrainConfig:
    """The ``TrainConfig`` of one Table-1 cell under ``config`` (the model is set per cell)."""
    return TrainConfig(learning_rate=config.learning_rate, batch_size=config.batch_size,
                       total_steps=config.total_steps, eval_every=config.eval_every)


def run(config: BenchmarksConfig, ctx) -> dict[str, Any]:
    """Train every cell and improved baseline (curves per seed, summaries, timings); each finished one is kept in
    ``ctx.store``, so a rerun only adds what is missing."""
    ds = make_dataset()
    perms = {"default": None, "shuffled": SHUFFLE_PERMUTATION}
    data = {(name, split): prepare_data(ds, config.val_fraction if split == "val" else 0.0, config.val_seed,
                                        perms[name], classes=ctx.classes)
            for name in config.datasets for split in ("full", "val")}
    keys = jax.random.split(jax.random.key(config.seed), config.seeds)
    base = table1_train_config(config)
    results = {"seeds": f"jax.random.split(jax.random.key({config.seed}), {config.seeds}); improved: "
                        f"jax.random.split(jax.random.key({config.seed + 1}), {config.improved_seeds})",
               "shuffle_permutation": list(SHUFFLE_PERMUTATION), "cells": {}, "improved": {}}
    cell_tag = {k: v for k, v in dataclasses.asdict(config).items() if not k.startswith("improved")
                and k not in ("models", "datasets")}
    bar = ctx.bar(len(config.models) * len(config.datasets) + len(config.improved), "benchmark cells", "cell")
    for model in config.models:
        for name in config.datasets:
            key = f"{model}_{name}"
            cell = ctx.store.get(key, cell_tag)
            if cell is None:
                cfg = dataclasses.replace(base, model=model)
                t0 = time.perf_counter()
                _, m, s = train_seeds(keys, data[name, "full"], cfg)
                _, _, s_val = train_seeds(keys, data[name, "val"], cfg)
                cell = {"step": np.asarray(m["step"][0]).tolist(), "train_acc": np.asarray(m["train_acc"]).tolist(),
                        "test_acc": np.asarray(m["test_acc"]).tolist(), "harness": _summaries(m, s),
                        "harness_val": _summaries(None, s_val)}
                if config.modern:
                    _, _, s_mod = train_seeds(keys, data[name, "val"], dataclasses.replace(cfg, protocol="modern"))
                    cell["modern"] = _summaries(None, s_mod)
                cell["seconds"] = time.perf_counter() - t0
                ctx.store.put(key, cell_tag, cell)
            results["cells"][f"{model}/{name}"] = cell
            bar.update()
    ikeys = jax.random.split(jax.random.key(config.seed + 1), config.improved_seeds)
    for kind in config.improved:
        cfg = dataclasses.replace(recipes.CHOSEN[kind], total_steps=config.improved_steps,
                                  eval_every=min(config.eval_every, config.improved_steps))
        tag = {"train": dataclasses.asdict(cfg), "seeds": config.improved_seeds, "seed": config.seed,
               "val_fraction": config.val_fraction, "val_seed": config.val_seed}
        row = ctx.store.get(f"improved_{kind}", tag)
        if row is None:
            t0 = time.perf_counter()
            _, m, s = train_seeds(ikeys, data["default", "val"], cfg)
            row = {"config": dataclasses.asdict(cfg), "chosen_by": recipes.CHOSEN_BY[kind], **_summaries(m, s),
                   "val_acc_best": np.asarray(m["val_acc"].max(-1)).tolist(), "seconds": time.perf_counter() - t0}
            ctx.store.put(f"improved_{kind}", tag, row)
        results["improved"][kind] = row
        bar.update()
    bar.close()
    return results


def markdown_table(results: dict[str, Any]) -> str:
    """Paper vs ours, test accuracy % (mean ± std over seeds)."""
    cfg = results["config"]
    lines = [f"Test accuracy (%), mean ± std over {cfg['seeds']} seeds; harness H: Adam {cfg['learning_rate']}, "
             f"batch {cfg['batch_size']}, T = {cfg['total_steps']}, eval every {cfg['eval_every']}. "
             "Shuffled = frozen data with the 2024 seed-42 column permutation.", "",
             "| model | data | paper | final | best over evals | val-selected (H) | modern, val-selected |",
             "|---|---|---|---|---|---|---|"]
    for key, cell in results["cells"].items():
        model, name = key.split("/")
        p = PAPER[name][model]
        h = cell["harness"]
        lines.append(f"| {model} | {name} | {p[0]} ± {p[1]} | {mean_std(h['final_test_acc'])} | "
                     f"{mean_std(h['best_test_acc'])} | {mean_std(cell['harness_val']['selected_test_acc'])} | "
                     f"{mean_std(cell.get('modern', {}).get('selected_test_acc', []))} |")
    if results.get("improved"):
        lines += ["", "Improved baselines: validation-selected checkpoint, trained on 3,600 examples (400 held out for "
                  "validation; the test set is read once, at the end); modern protocol, cosine learning rate. How each "
                  "recipe was chosen is in the last column (see `core/recipes.py`; never tuned on test):", "",
                  "| model | review | ours: val-selected test | val acc | config | chosen by |",
                  "|---|---|---|---|---|---|"]
        for kind, r in results["improved"].items():
            c = r["config"]
            aug = ", ".join(f"{k.removeprefix('augment_')} {c[k]}" for k in ("augment_shift", "augment_scale",
                                                                             "augment_noise") if c.get(k))
            desc = (f"{dict(c['model_kwargs'])}, {c['optimizer']} lr {c['learning_rate']}, wd {c['weight_decay']}, "
                    f"T = {c['total_steps']}" + (f", augment: {aug}" if aug else ""))
            lines.append(f"| {kind} | {REVIEW[kind][0]} ± {REVIEW[kind][1]} | {mean_std(r['selected_test_acc'])} | "
                         f"{mean_std(r['val_acc_best'])} | {desc} | {r.get('chosen_by', 'fixed a priori')} |")
    return "\n".join(lines) + "\n"


def report_rows(results: dict[str, Any]) -> list[dict]:
    """Rows for REPORT.md: per model and data, the paper's number beside ours (best over evaluations)."""
    seeds = results["config"]["seeds"]
    rows = []
    for key, cell in results["cells"].items():
        model, name = key.split("/")
        paper = PAPER[name][model]
        row = {"quantity": f"{model}, {name} data: test accuracy, best over evaluations (%)",
               "paper": f"{paper[0]} ± {paper[1]}",
               "ours": f"{mean_std(cell['harness']['best_test_acc'])} ({seeds_text(seeds)}); final "
                       f"{mean_std(cell['harness']['final_test_acc'])}"}
        mean = float(np.mean(cell["harness"]["best_test_acc"]))
        if abs(mean - paper[0]) > paper[1]:
            lo, hi = BAND[name][model]
            row["why"] = (f"outside the paper's ± {paper[1]} "
                          + (f"but inside the acceptance band {lo}–{hi} set by the original notebook's own saved "
                             f"runs{' (' + SAVED_RUNS[model] + ')' if model in SAVED_RUNS else ''}"
                             if lo <= mean <= hi
                             else f"and outside the acceptance band {lo}–{hi} of the original's saved runs"))
        rows.append(row)
    for kind, r in (results.get("improved") or {}).items():
        row = {"quantity": f"improved {kind}: validation-selected test accuracy (%)",
               "paper": f"review {REVIEW[kind][0]} ± {REVIEW[kind][1]}",
               "ours": f"{mean_std(r['selected_test_acc'])} ({r.get('chosen_by', 'fixed a priori')})"}
        if float(np.mean(r["selected_test_acc"])) > REVIEW[kind][0] + 2 * REVIEW[kind][1]:
            row["why"] = ("above the review: ours is a different recipe (augmentation, PReLU, width; see "
                          "benchmarks.md), chosen on a validation split only, so the test set never picked it")
        rows.append(row)
    return rows


def draw(results: dict[str, Any], out: str | Path) -> list[Path]:
    """``benchmarks.png`` (train and test accuracy vs step, mean over seeds; shuffled dashed; the human line) and
    the Markdown table ``benchmarks.md``, from the record."""

    fig, axes = new_figure(1, 2, figsize=(10, 4), sharey=True)
    for key, cell in results["cells"].items():
        model, name = key.split("/")
        style = "--" if name == "shuffled" else "-"
        for ax, what in zip(axes, ("train_acc", "test_acc"), strict=True):
            curve = np.asarray(cell[what]).mean(0)
            ax.plot(cell["step"], curve, style, color=COLORS.get(model, "k"),
                    label=f"{model}{' (shuffled)' if name == 'shuffled' else ''}")
    axes[1].axhline(HUMAN, color="gray", ls=":", label=f"human ({HUMAN}%)")
    for ax, title in zip(axes, ("Train accuracy", "Test accuracy"), strict=True):
        ax.set(title=title, xlabel="training step", ylim=(0, 100))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"MNIST-1D baselines, mean over {results['config']['seeds']} seeds")
    fig.tight_layout()
    png = save_figure(fig, Path(out) / "benchmarks.png", dpi=120, tight=False)
    text = markdown_table(results)
    md = atomic_write(Path(out) / "benchmarks.md", lambda f: f.write(text.encode()))
    return [png, md]
