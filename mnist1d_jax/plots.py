"""Figures of the dataset itself (EXPERIMENTS.md §1.7: signals drawn vertically, time axis inverted)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mnist1d_jax.generator import Dataset  # noqa: E402
from mnist1d_jax.templates import NUM_CLASSES  # noqa: E402


def example_indices(dataset: Dataset, per_class: int) -> np.ndarray:
    """(10, per_class) indices of the first training examples of each class."""
    return np.stack([np.flatnonzero(dataset.y == c)[:per_class] for c in range(NUM_CLASSES)])


def _vertical(ax, values, t, color, lim):
    """Draw a signal 'vertically': value on the horizontal axis, time downwards, like a pen stroke."""
    ax.plot(values, t, color=color, lw=2)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(lim, -lim)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_dataset_figure(dataset: Dataset, path, per_class: int = 3) -> dict:
    """Templates (top row, on [-1, 1]^2) and `per_class` training examples of each digit (on [-6, 6]^2).

    Returns what was drawn (the example indices), for the JSON written beside the figure.
    """
    idx = example_indices(dataset, per_class)
    fig, axes = plt.subplots(1 + per_class, NUM_CLASSES, figsize=(1.3 * NUM_CLASSES, 1.5 * (1 + per_class)))
    for c in range(NUM_CLASSES):
        _vertical(axes[0, c], dataset.templates.x[c], dataset.templates.t, "tab:blue", 1.0)
        axes[0, c].set_title(str(c), fontsize=13)
        for row in range(per_class):
            i = idx[c, row]
            _vertical(axes[1 + row, c], dataset.x[i], dataset.t, "black", 6.0)
    axes[0, 0].set_ylabel("template", fontsize=9)
    for row in range(per_class):
        axes[1 + row, 0].set_ylabel("example", fontsize=9)
    cfg = dataset.config
    fig.suptitle(
        f"MNIST-1D: templates and transformed training examples "
        f"({cfg.num_train:,} train / {cfg.num_test:,} test, seed {cfg.seed})",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"example_indices": idx.tolist()}


def write_dataset_figure(data_path=None, png_path="figures/dataset.png") -> tuple[Path, dict]:
    """Draw the dataset figure from a dataset file (default: generate the paper's data) and write its JSON.

    The JSON beside the PNG records the config, the arrays' SHA-256, the examples drawn and the provenance.
    """
    from mnist1d_jax.generator import make_dataset
    from mnist1d_jax.io import arrays_sha256, load_dataset
    from mnist1d_jax.results import provenance, write_json

    dataset = make_dataset() if data_path is None else load_dataset(data_path)
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    drawn = draw_dataset_figure(dataset, png_path)
    record = {
        "figure": png_path.name,
        "what": "templates (top row) and transformed training examples, drawn vertically",
        "source": "generated: make_dataset(config)" if data_path is None else str(data_path),
        "config": dataset.config.to_dict(),
        "arrays_sha256": arrays_sha256(dataset.arrays()),
        "num_train": len(dataset.x),
        "num_test": len(dataset.x_test),
        **drawn,
        "provenance": provenance(),
    }
    write_json(png_path.with_suffix(".json"), record)
    return png_path, record
