"""The few-shot study's figure, from its record only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.data.templates import get_templates
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.studies.few_shot.config import FAMILIES, LABELS

SHOWN_QUERIES = 5  # queries per class in the figure's example tasks (all 15 hide the support curves)


def draw(record: dict, out: str | Path) -> list[Path]:
    """``few_shot.png``: one 5-way test task of new classes and one of digits (support curves coloured, some
    queries grey, each class's template inset), and the test accuracy of every method (bars, 95 % intervals)."""
    c, ex = record["config"], record["example"]
    n = c["n_way"]
    fig, unused = new_figure(figsize=(15, 9))
    unused.remove()  # the panels sit on a grid of their own (the bars span half of its last row each)
    grid = fig.add_gridspec(3, n, height_ratios=[1, 1, 1.5])
    templates, digits = np.asarray(ex["templates"]), get_templates().x
    for row, family in enumerate(FAMILIES):
        task = ex[family]
        for j in range(n):
            ax = fig.add_subplot(grid[row, j])
            for curve in np.asarray(task["query_x"])[np.asarray(task["query_y"]) == j][:SHOWN_QUERIES]:
                ax.plot(curve, color="0.7", lw=0.7)
            for curve in np.asarray(task["support_x"])[np.asarray(task["support_y"]) == j]:
                ax.plot(curve, color=f"C{j}", lw=1.4)
            cls = int(np.asarray(task["classes"])[j])
            inset = ax.inset_axes([0.0, 0.78, 0.28, 0.22])  # the class's template (12 points), top left
            inset.plot(templates[j] if family == "new" else digits[cls], "k-", lw=1)
            inset.set_xticks([]), inset.set_yticks([]), inset.set_ylim(-0.55, 0.55)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"class {j}: " + (f"test template {cls}" if family == "new" else f"digit {cls}"), fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{FAMILIES[family]}\n{ex['k']}-shot task", fontsize=9)
    methods = list(record["results"])
    width = 0.8 / len(methods)
    half = n // 2
    for i, family in enumerate(FAMILIES):
        ax = fig.add_subplot(grid[2, :half] if i == 0 else grid[2, half:])
        for j, method in enumerate(methods):
            means = [record["results"][method][str(k)][family]["mean"] for k in c["shots"]]
            cis = [record["results"][method][str(k)][family]["ci95"] for k in c["shots"]]
            ax.bar(np.arange(len(c["shots"])) + j * width, means, width, yerr=cis, capsize=3, color=f"C{j}",
                   label=LABELS[method])
        ax.axhline(100 / n, color="0.5", ls=":", lw=1)
        ax.set_xticks(np.arange(len(c["shots"])) + width * (len(methods) - 1) / 2,
                      [f"{n}-way {k}-shot" for k in c["shots"]])
        ax.set(ylabel="test accuracy (%)", title=f"{FAMILIES[family]} ({c['test_tasks']} tasks, 95 % intervals)",
               ylim=(0, 100))
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Few-shot learning on MNIST-1D: one test task per family, support examples coloured, "
                 f"{SHOWN_QUERIES} of each class's {c['n_query']} queries grey, the class's 12-point template inset",
                 fontsize=10)
    return [save_figure(fig, Path(out) / "few_shot.png")]
