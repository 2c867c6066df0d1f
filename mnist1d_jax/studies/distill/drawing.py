"""The distillation study's figure, from its record only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.data.templates import NUM_CLASSES, get_templates
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.studies.distill.rows import SET_LABELS, set_accuracies


def draw(record: dict, out: str | Path) -> list[Path]:
    """``distill.png``: each model's distilled examples per class (coloured) over the class's mean real
    example (grey) and its template (dashed), and the test accuracy of every training set (bars: mean ± std)."""
    models = list(record["models"])
    labels = np.asarray(record["labels"])
    data_mean = np.asarray(record["class_means"])  # [10, 40]
    templates = np.asarray(get_templates().x)  # [10, 12]
    fig, unused = new_figure(figsize=(16, 2.3 * len(models) + 3.6))
    unused.remove()  # the panels sit on a grid of their own (a row per model, the bars spanning the last row)
    grid = fig.add_gridspec(len(models) + 1, NUM_CLASSES, height_ratios=[1] * len(models) + [1.6])
    t40 = np.linspace(0, 1, data_mean.shape[1])
    for row, name in enumerate(models):
        x = np.asarray(record["models"][name]["distilled"]["x"])
        for c in range(NUM_CLASSES):
            ax = fig.add_subplot(grid[row, c])
            ax.plot(data_mean[c], color="0.6", lw=2)
            tpl = np.interp(t40, np.linspace(0, 1, templates.shape[1]), templates[c])
            scale = np.abs(data_mean[c]).max() / max(np.abs(tpl).max(), 1e-9)
            ax.plot(tpl * scale, color="black", ls="--", lw=1)
            for curve in x[labels == c]:
                ax.plot(curve, color=f"C{c}", lw=0.7, alpha=0.8)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(f"digit {c}", fontsize=9)
            if c == 0:
                ax.set_ylabel(name.upper(), fontsize=9)
    ax = fig.add_subplot(grid[len(models), :])
    kinds = ["random", "kmeans", "distilled", "full"]
    width = 0.8 / (len(kinds) + 1)
    for i, name in enumerate(models):
        sets = set_accuracies(record["models"][name])
        for j, kind in enumerate(kinds):
            v = sets[kind]
            ax.bar(i + j * width, v.mean(), width, yerr=v.std(), color=f"C{j}", capsize=3,
                   label=SET_LABELS[kind] if i == 0 else None)
        source = [p for p in record["transfer"] if p.endswith(f"->{name}")]
        if source:
            v = np.ravel(record["transfer"][source[0]]["test"])
            ax.bar(i + len(kinds) * width, v.mean(), width, yerr=v.std(), color="C4", capsize=3,
                   label="distilled for the other model" if i == 0 else None)
    ax.set_xticks([i + 2 * width for i in range(len(models))],
                  [f"{n.upper()}, T = {record['models'][n]['chosen']['steps']}" for n in models])
    ax.set(ylabel="test accuracy (%)", title="A fresh net trained on each set (unseen inits; bars ± std)")
    ax.legend(fontsize=8, ncol=5)
    fig.suptitle(f"Dataset distillation on MNIST-1D: {record['config']['per_class']} learned examples per class "
                 "(coloured) over the class's mean real example (grey) and template (dashed)", fontsize=10)
    return [save_figure(fig, Path(out) / "distill.png")]
