"""Optimisers x architectures in one table, learning rates chosen on validation (beyond the paper).

Protocol: the frozen 4,000 / 1,000 examples, 10 % of the training set held out as validation (3,600 train /
400 validation, ``prepare_data(val_fraction=0.1, val_seed=0)``). Every model is trained under the modern
protocol of ``core.runs`` (a fresh shuffle every epoch, batch 100, T = 6,000 steps as Table 1, evaluation every
250 steps, the checkpoint with the best validation accuracy kept) by every optimiser at every learning rate of
its grid (four rates a factor ~3 apart per optimiser), for ``seeds`` seeds; each (model, optimiser) is one
compiled program vmapped over (learning rate, seed) (``core.grid.grid_runs``; each rate is kept in the store on
its own, so a wider grid reuses the rates already run). For each (model, optimiser) the learning rate with the
highest mean best validation accuracy over the seeds is chosen (the test set plays no part), and the table
reports the test accuracy (%) of its selected checkpoints, mean ± std over the seeds; a rate chosen at either
end of its grid is flagged.

Optimisers (``core.step.make_optimizer``): SGD with momentum 0.9; Adam (β 0.9 / 0.999); AdamW with decoupled
weight decay ``adamw_weight_decay`` = 0.01 (PyTorch's default); Lion (Chen et al. 2023, "Symbolic discovery of
optimization algorithms", optax's ``lion``, β 0.9 / 0.99), the recent one; no weight decay for the others.
Models: the Table-1 four (logistic 410, MLP 15,210, CNN 5,210, GRU 5,134 parameters) and three 1-D CNNs
beyond it from ``nn.models``: a residual CNN (``rescnn``, 12,160), a temporal convolutional network of causal
dilated convolutions (``tcn``, 5,754) and a dilated CNN (``dilated_cnn``, 8,826). The paper's Table 1 (Adam
1e-2, no selection): logistic 32, MLP 68, CNN 94, GRU 91 %.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import numpy as np

from mnist1d_jax.core.grid import GRID_METRICS, grid_runs
from mnist1d_jax.core.runs import TrainConfig
from mnist1d_jax.core.step import OPTIMIZERS
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.nn.init import count_params, init_params
from mnist1d_jax.nn.models import MODELS, get_model
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.runtime.results import mean_std, seeds_text
from mnist1d_jax.runtime.validation import Config, choice, integer, option, positive, real, tuple_of

NAME = "optimizer_benchmark"
TITLE = "Optimisers x architectures, learning rate chosen on validation (beyond the paper)"
ORIGINAL_MINUTES = None
TABLE1 = {"logistic": "32", "mlp": "68", "cnn": "94", "gru": "91"}
_RATES = tuple_of(positive(10.0), unique=True, increasing=True)


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig(Config):
    models: tuple[str, ...] = option(("logistic", "mlp", "cnn", "gru", "rescnn", "tcn", "dilated_cnn"),
                                     tuple_of(choice(*MODELS), unique=True), "models of the zoo")
    optimizers: tuple[str, ...] = option(OPTIMIZERS, tuple_of(choice(*OPTIMIZERS), unique=True), "optimisers")
    sgd_rates: tuple[float, ...] = option((0.01, 0.03, 0.1, 0.3), _RATES, "SGD (momentum 0.9) learning rates")
    adam_rates: tuple[float, ...] = option((1e-3, 3e-3, 1e-2, 3e-2), _RATES, "Adam and AdamW learning rates")
    lion_rates: tuple[float, ...] = option((1e-4, 3e-4, 1e-3, 3e-3), _RATES, "Lion learning rates")
    adamw_weight_decay: float = option(0.01, real(0.0, 10.0), "AdamW's decoupled weight decay")
    seeds: int = option(3, integer(1, 1000), "seeds per (model, optimiser, learning rate)")
    total_steps: int = option(6000, integer(1, 10_000_000), "T (T + 1 updates), as Table 1")
    eval_every: int = option(250, integer(1), "evaluate (and select on validation) every this many steps")
    batch_size: int = option(100, integer(1, 3600), "examples per batch")

    def rates(self, optimizer: str) -> tuple[float, ...]:
        return {"sgd": self.sgd_rates, "adam": self.adam_rates, "adamw": self.adam_rates,
                "lion": self.lion_rates}[optimizer]

    def train_config(self, model: str, optimizer: str) -> TrainConfig:
        return TrainConfig(model=model, protocol="modern", optimizer=optimizer, batch_size=self.batch_size,
                           total_steps=self.total_steps, eval_every=min(self.eval_every, self.total_steps))


Config = BenchmarkConfig
QUICK = BenchmarkConfig(models=("logistic", "tcn"), optimizers=("lion",), sgd_rates=(0.05,),
                        lion_rates=(1e-4, 1e-3), seeds=1, total_steps=8, eval_every=4)
PAPER_SEEDS: dict = {}


def run(config: BenchmarkConfig, ctx) -> dict:
    """Every (model, optimiser) cell (each kept in the store); per cell the (rates, seeds) tables in %, the
    learning rate chosen on validation and its test accuracies."""
    data = prepare_data(get_dataset(), val_fraction=0.1, val_seed=0, classes=ctx.classes)
    keys = jax.random.split(jax.random.key(0), config.seeds)
    cells = {}
    bar = ctx.bar(len(config.models) * len(config.optimizers), "(model, optimiser) cells", "cell")
    for model in config.models:
        for opt in config.optimizers:
            rates = config.rates(opt)
            wd = config.adamw_weight_decay if opt == "adamw" else 0.0
            tc = config.train_config(model, opt)
            name = f"{model}_{opt}"
            cell = _cell(ctx, name, keys, data, tc, rates, wd, config.seeds)
            cells[name] = {"model": model, "optimizer": opt, "rates": list(rates), "weight_decay": wd,
                           "seconds": float(cell["seconds"]),
                           **{k: np.asarray(cell[k]).tolist() for k in GRID_METRICS}, **choose(cell, rates)}
            bar.update(1)
            bar.set_postfix_str(f"{name} {cells[name]['seconds']:.0f} s")
    bar.close()
    params = {m: count_params(jax.eval_shape(lambda m=m: init_params(get_model(m), jax.random.key(0))))
              for m in config.models}
    return {"cells": cells, "params": params, "n_train": int(data.x.shape[0]), "n_val": int(data.x_val.shape[0])}


def _cell(ctx, name: str, keys, data, tc: TrainConfig, rates, wd: float, seeds: int) -> dict:
    """One (model, optimiser): ``{metric: (R, S)}`` and the seconds; each rate is kept in the store on its own
    (so a wider grid reuses the rates already run), the missing ones run together in one vmapped program."""
    def tag(rate):
        return {"train": dataclasses.asdict(tc), "rate": float(rate), "weight_decay": wd, "seeds": seeds}

    found = {r: ctx.store.get(f"{name}_{r:g}", tag(r)) for r in rates}
    missing = [r for r in rates if found[r] is None]
    if missing:
        t0 = time.perf_counter()
        out = {k: np.asarray(v) for k, v in grid_runs(keys, data, tc, missing, [wd] * len(missing)).items()}
        seconds = (time.perf_counter() - t0) / len(missing)
        for i, r in enumerate(missing):
            found[r] = {**{k: v[i] for k, v in out.items()}, "seconds": seconds}
            ctx.store.put(f"{name}_{r:g}", tag(r), found[r])
    cell = {k: np.stack([np.asarray(found[r][k]) for r in rates]) for k in GRID_METRICS}
    cell["seconds"] = float(sum(found[r]["seconds"] for r in rates))
    return cell


def choose(cell: dict, rates) -> dict:
    """The rate with the highest mean best validation accuracy (first on ties) and its per-seed test numbers."""
    val = np.asarray(cell["best_val_acc"]).mean(1)
    i = int(np.argmax(val))
    return {"chosen_rate": float(rates[i]), "chosen_val_acc": float(val[i]),
            "chosen_test_acc": np.asarray(cell["selected_test_acc"])[i].tolist(),
            "chosen_at_grid_edge": bool(len(rates) > 1 and i in (0, len(rates) - 1))}


def table(record: dict) -> tuple[list[str], list[str], np.ndarray, list[list[str]]]:
    """(models, optimisers, mean test accuracy (M, O), cell texts) of the record."""
    cfg = record["config"]
    models, opts = cfg["models"], cfg["optimizers"]
    means = np.full((len(models), len(opts)), np.nan)
    texts = []
    for i, m in enumerate(models):
        row = []
        for j, o in enumerate(opts):
            c = record["cells"][f"{m}_{o}"]
            means[i, j] = np.mean(c["chosen_test_acc"])
            row.append(f"{mean_std(c['chosen_test_acc'])} (lr {c['chosen_rate']:g}"
                       + (", edge" if c["chosen_at_grid_edge"] else "") + ")")
        texts.append(row)
    return models, opts, means, texts


def draw(record: dict, out: str | Path) -> list[Path]:
    """``optimizer_benchmark.png``: the test-accuracy table as a heat map (text: mean ± std, chosen rate) and
    each cell's validation accuracy against the learning rate."""

    models, opts, means, texts = table(record)
    fig, axes = new_figure(1, 2, figsize=(17, 0.6 * len(models) + 3), gridspec_kw={"width_ratios": [1.6, 1]})
    ax = axes[0]
    im = ax.imshow(means, cmap="viridis", aspect="auto", vmin=np.nanmin(means) - 5, vmax=100)
    ax.set_xticks(range(len(opts)), opts)
    ax.set_yticks(range(len(models)), [f"{m} ({record['params'][m]:,})" for m in models])
    for i in range(len(models)):
        for j in range(len(opts)):
            ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=7,
                    color="w" if means[i, j] < np.nanmax(means) - 15 else "k")
    ax.set_title("test accuracy (%) at the checkpoint and learning rate chosen on validation", fontsize=9)
    fig.colorbar(im, ax=ax)
    ax = axes[1]
    for i, m in enumerate(models):
        for j, o in enumerate(opts):
            c = record["cells"][f"{m}_{o}"]
            ax.plot(c["rates"], np.asarray(c["best_val_acc"]).mean(1), ["-", "--", ":", "-."][j % 4],
                    color=f"C{i}", marker="o", ms=3, label=m if j == 0 else None)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (line style: " + ", ".join(f"{o} {s}" for o, s in zip(
        opts, ["solid", "dashed", "dotted", "dash-dot"], strict=False)) + ")", fontsize=8)
    ax.set_ylabel("best validation accuracy (%), seed mean")
    ax.legend(fontsize=7)
    cfg = record["config"]
    fig.suptitle(f"Optimisers x architectures on MNIST-1D ({record['n_train']:,} train / {record['n_val']} "
                 f"validation, T = {cfg['total_steps']:,}, {seeds_text(cfg['seeds'])} per cell)", fontsize=10)
    fig.tight_layout()
    return [save_figure(fig, Path(out) / f"{NAME}.png", dpi=100)]


def report_rows(record: dict) -> list[dict]:
    """One row per model: every optimiser's test accuracy at its chosen rate."""
    models, opts, means, texts = table(record)
    rows = []
    for i, m in enumerate(models):
        best = opts[int(np.nanargmax(means[i]))]
        rows.append({"quantity": f"{m} ({record['params'][m]:,} params): test % by " + " / ".join(opts),
                     "paper": f"Table 1 (Adam 1e-2): {TABLE1[m]}" if m in TABLE1 else "n/a",
                     "ours": "; ".join(texts[i]) + f"; best: {best}"})
    edges = [k for k, c in record["cells"].items() if c["chosen_at_grid_edge"]]
    rows.append({"quantity": "cells whose chosen rate is at the edge of its grid", "paper": "n/a",
                 "ours": ", ".join(edges) or "none"})
    minutes = sum(c["seconds"] for c in record["cells"].values()) / 60
    rows.append({"quantity": "runtime (min, all cells)", "paper": "n/a", "ours": f"{minutes:.1f}"})
    return rows
