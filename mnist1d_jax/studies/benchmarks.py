"""Table 1 and the benchmark figure: logistic, MLP, CNN, GRU x {default, shuffled} x seeds (EXPERIMENTS.md §2).

Every (model, dataset, protocol) cell is one compiled program vmapped over the seeds. Per seed we report three
test accuracies:

* **final** (step 6000) and **best** over the 25 evaluation points (the paper's numbers match "best", i.e. a
  checkpoint chosen on the test curve) from harness H on the full 4,000 training examples;
* **val-selected**, leakage-free: a separate harness-H run on 90 % of the training set (``val_seed`` fixes
  which 400 examples are held out), reporting the test accuracy at the evaluation with the best validation
  accuracy;
* optionally the **modern** protocol (shuffled batches every epoch, same split, same selection).

"Shuffled" MNIST-1D is the 2024 benchmark figure's dataset: the frozen (default) data with its 40 columns
permuted by ``np.random.seed(42); np.random.permutation(40)`` (``SHUFFLE_PERMUTATION``), identically for train
and test. (The 2020 Table 1 regenerated the data with ``shuffle_seq=True`` instead, a different permutation.)

Results go to ``benchmarks.json`` first (atomically, with config, seeds and versions); the figure and the
Markdown table are drawn from that file only (``draw``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from mnist1d_jax.core.runs import TrainConfig, train_seeds
from mnist1d_jax.data.splits import SHUFFLE_PERMUTATION, prepare_data
from mnist1d_jax.report.figures import save_figure
from mnist1d_jax.report.results import mean_std, provenance, read_json, seeds_text, write_json
from mnist1d_jax.studies import improved

PAPER = {  # Table 1 (test accuracy %, mean +- spread); shuffled spreads as the default ones
    "default": {"logistic": (32, 1), "mlp": (68, 2), "cnn": (94, 2), "gru": (91, 2)},
    "shuffled": {"logistic": (32, 1), "mlp": (68, 2), "cnn": (56, 2), "gru": (57, 2)},
}
REVIEW = {"cnn": (96.8, 0.5), "mlp": (73.3, 1.4)}  # the independent review's improved baselines (100 seeds)
# The port's acceptance bands (best over evaluations), set by the original notebook's saved 2020 and 2024 runs
# (EXPERIMENTS.md §2.4); a mean outside the paper's ± but inside its band gets a note saying so in REPORT.md.
BAND = {
    "default": {"logistic": (31, 33), "mlp": (64, 69), "cnn": (92, 95), "gru": (89, 92)},
    "shuffled": {"logistic": (31, 33), "mlp": (64, 69), "cnn": (53, 60), "gru": (53, 60)},
}
SAVED_RUNS = {  # what the original's saved runs reached (EXPERIMENTS.md §2.4), quoted beside a note
    "mlp": "the 2024 MLP run peaked at ~66",
    "cnn": "the shuffled CNN runs reached 58.3 (2020) and 58.7 (2024) at step 6,000",
    "gru": "the shuffled GRU runs reached 57.2 (2020) and 56.8 (2024) at step 1,000, their best saved point",
}
HUMAN = 95.8
COLORS = {"logistic": "tab:blue", "mlp": "tab:orange", "cnn": "tab:green", "gru": "tab:red"}


@dataclasses.dataclass(frozen=True)
class BenchmarksConfig:
    """The study's knobs; defaults are the paper's (Adam 1e-2, batch 100, T = 6000, eval every 250)."""

    models: tuple[str, ...] = ("logistic", "mlp", "cnn", "gru")
    datasets: tuple[str, ...] = ("default", "shuffled")
    seeds: int = 10
    seed: int = 0  # seed i uses jax.random.split(jax.random.key(seed), seeds)[i]
    total_steps: int = 6000
    eval_every: int = 250
    learning_rate: float = 1e-2
    batch_size: int = 100
    val_fraction: float = 0.1
    val_seed: int = 0
    modern: bool = True
    improved: tuple[str, ...] = ("cnn", "mlp")
    improved_seeds: int = 10
    improved_steps: int = 6000


QUICK = BenchmarksConfig(seeds=2, total_steps=20, eval_every=10, improved_seeds=2, improved_steps=20)


def load_dataset():
    """The default MNIST-1D dataset (identical to the paper's frozen file), from the exact generator."""
    from mnist1d_jax import DatasetConfig, make_dataset

    return make_dataset(DatasetConfig())


def _summaries(metrics, summary, keys=("final_test_acc", "best_test_acc", "selected_test_acc")) -> dict:
    return {k: np.asarray(summary[k]).tolist() for k in keys if k in summary}


def run(config: BenchmarksConfig = BenchmarksConfig(), progress: bool = True, checkpoint=None,
        previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train every cell and return the JSON-able results (curves per seed, summaries, timings).

    ``checkpoint(results)`` is called after every model (partial results survive an interrupted run);
    cells already in ``previous`` (same config) are reused, so a rerun only adds what is missing.
    """
    from tqdm.auto import tqdm

    ds = load_dataset()
    perms = {"default": None, "shuffled": SHUFFLE_PERMUTATION}
    data = {(name, split): prepare_data(ds, config.val_fraction if split == "val" else 0.0, config.val_seed,
                                        perms[name])
            for name in config.datasets for split in ("full", "val")}
    keys = jax.random.split(jax.random.key(config.seed), config.seeds)
    base = TrainConfig(learning_rate=config.learning_rate, batch_size=config.batch_size,
                       total_steps=config.total_steps, eval_every=config.eval_every)
    results = {"config": dataclasses.asdict(config),
               "seeds": f"jax.random.split(jax.random.key({config.seed}), {config.seeds}); improved: "
                        f"jax.random.split(jax.random.key({config.seed + 1}), {config.improved_seeds})",
               "shuffle_permutation": list(SHUFFLE_PERMUTATION), "cells": {}, "improved": {}}
    def comparable(cfg):  # through JSON: tuples read back as lists
        return json.loads(json.dumps({k: v for k, v in cfg.items() if k not in ("models", "improved")}))

    if previous and comparable(previous["config"]) == comparable(results["config"]):
        results["cells"].update(previous.get("cells", {}))
        results["improved"].update(previous.get("improved", {}))
    cells = results["cells"]
    bar = tqdm(config.models, desc="models", disable=not progress)
    for model in bar:
        for name in config.datasets:
            if f"{model}/{name}" in cells:
                continue
            bar.set_postfix_str(f"{model} / {name}")
            cfg = dataclasses.replace(base, model=model)
            t0 = time.perf_counter()
            _, m, s = train_seeds(keys, data[name, "full"], cfg)
            _, _, s_val = train_seeds(keys, data[name, "val"], cfg)
            cell = {"step": np.asarray(m["step"][0]).tolist(),
                    "train_acc": np.asarray(m["train_acc"]).tolist(), "test_acc": np.asarray(m["test_acc"]).tolist(),
                    "harness": _summaries(m, s), "harness_val": _summaries(None, s_val)}
            if config.modern:
                _, _, s_mod = train_seeds(keys, data[name, "val"], dataclasses.replace(cfg, protocol="modern"))
                cell["modern"] = _summaries(None, s_mod)
            cell["seconds"] = time.perf_counter() - t0
            cells[f"{model}/{name}"] = cell
        if checkpoint is not None:
            checkpoint(results)
    ikeys = jax.random.split(jax.random.key(config.seed + 1), config.improved_seeds)
    for kind in tqdm(config.improved, desc="improved", disable=not progress):
        cfg = dataclasses.replace(improved.CHOSEN[kind], total_steps=config.improved_steps,
                                  eval_every=min(config.eval_every, config.improved_steps))
        t0 = time.perf_counter()
        _, m, s = train_seeds(ikeys, data["default", "val"], cfg)
        results["improved"][kind] = {"config": dataclasses.asdict(cfg), "chosen_by": improved.CHOSEN_BY[kind],
                                     **_summaries(m, s),
                                     "val_acc_best": np.asarray(m["val_acc"].max(-1)).tolist(),
                                     "seconds": time.perf_counter() - t0}
        if checkpoint is not None:
            checkpoint(results)
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
                  "recipe was chosen is in the last column (see `studies/improved.py`; never tuned on test):", "",
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
                             f"runs (EXPERIMENTS.md §2.4{'; ' + SAVED_RUNS[model] if model in SAVED_RUNS else ''})"
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


def draw(json_path: str | Path, png_path: str | Path) -> Path:
    """The benchmark figure from the results file only: train and test accuracy vs step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = read_json(json_path)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
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
    return save_figure(fig, png_path, dpi=120, tight=False)


def write(results: dict[str, Any], out_dir: str | Path, stem: str = "benchmarks") -> dict[str, Path]:
    """JSON first (atomic), then the figure and the Markdown table drawn from it."""
    out_dir = Path(out_dir)
    json_path = write_json(out_dir / f"{stem}.json", {"provenance": provenance(), **results})  # keeps an old one
    png = draw(json_path, out_dir / f"{stem}.png")
    md = out_dir / f"{stem}.md"
    from mnist1d_jax.report.results import atomic_write

    text = markdown_table(read_json(json_path))
    atomic_write(md, lambda f: f.write(text.encode()))
    return {"json": json_path, "png": png, "md": md}
