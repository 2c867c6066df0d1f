"""The dataset study (paper Fig. 1 and the generator's acceptance criterion).

Protocol: regenerate the paper's dataset (4,000 train / 1,000 test examples of length 40, seed 42) and compare
it with the frozen file the paper's experiments used: labels must be equal and every value within 1e-12. The
check uses the frozen file's published fingerprints (first values, sums, labels) and, when installed, the
original package's own output. The figure shows the ten templates, one example made step by step (pad,
stretch, scale and shift, smooth and white noise, shear, resample to 40) and training examples of every
digit, drawn vertically with the time axis inverted as the paper draws them.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from mnist1d_jax.data import transforms
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import Dataset, make_dataset
from mnist1d_jax.data.legacy_stream import draw_examples
from mnist1d_jax.data.templates import NUM_CLASSES, TEMPLATE_POINTS, get_templates
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.runtime.results import provenance, write_json
from mnist1d_jax.runtime.validation import Config, integer, option

NAME = "dataset"
TITLE = "The dataset (Fig. 1) and its exactness"
ORIGINAL_MINUTES = 0.1
# A class subset (data.classes) is refused: this study checks the generator itself.
REFUSES_CLASS_SUBSET = "it checks the generator against the frozen file's fingerprints, all ten digits by definition"


@dataclasses.dataclass(frozen=True)
class DatasetStudyConfig(Config):
    per_class: int = option(2, integer(1, 10), "training examples of every digit in the figure")


Config = DatasetStudyConfig
QUICK = DatasetStudyConfig()
PAPER_SEEDS: dict = {}

# Fingerprints of the frozen mnist1d_data.pkl (the original repository's file).
FROZEN = {
    "x[0, :4]": [-0.3320056673693902, -0.4719103656557236, -0.7786970762934950, -1.0097408265367047],
    "x_test[0, :4]": [-0.07877078047732886, -0.21073170588642925, -0.09175138109239452, 0.28267111736736455],
    "x.sum()": -51.78746787509559,
    "x_test.sum()": 51.78746787509186,
    "t[0]": -5.38753506670427,
    "y[:20]": [2, 6, 4, 5, 6, 6, 6, 0, 3, 1, 6, 9, 4, 3, 4, 5, 1, 9, 0, 3],
    "y_test[:20]": [2, 6, 3, 9, 4, 3, 1, 9, 5, 2, 0, 7, 7, 1, 4, 6, 1, 4, 3, 9],
}


def checks() -> dict:
    """Max deviation from every published fingerprint, and from the original package if installed."""
    start = time.perf_counter()
    data = make_dataset()
    seconds = time.perf_counter() - start
    ours = {
        "x[0, :4]": data.x[0, :4], "x_test[0, :4]": data.x_test[0, :4], "x.sum()": data.x.sum(),
        "x_test.sum()": data.x_test.sum(), "t[0]": data.t[0], "y[:20]": data.y[:20], "y_test[:20]": data.y_test[:20],
    }
    diffs = {k: float(np.abs(np.asarray(ours[k]) - np.asarray(v)).max()) for k, v in FROZEN.items()}
    record = {
        "fingerprint_diffs": diffs,
        "values_max_abs_diff": max(v for k, v in diffs.items() if "sum" not in k),
        "sums_max_abs_diff": max(v for k, v in diffs.items() if "sum" in k),
        "generate_seconds": seconds,
        "reference_package": None,
    }
    try:
        from mnist1d.data import get_dataset_args
        from mnist1d.data import make_dataset as reference_make_dataset
    except ImportError:
        return record
    state = np.random.get_state()
    reference = reference_make_dataset(get_dataset_args())
    np.random.set_state(state)
    record["reference_package"] = {
        "max_abs_diff": max(float(np.abs(getattr(data, k) - reference[k]).max()) for k in ("x", "x_test", "t")),
        "labels_equal": bool(
            np.array_equal(data.y, reference["y"]) and np.array_equal(data.y_test, reference["y_test"])
        ),
    }
    return record


def report_rows(record: dict) -> list[dict]:
    checked = record["checks"]
    rows = [
        {"quantity": "frozen file's fingerprint values (x[0, :4], x_test[0, :4], t[0], labels): max abs diff",
         "paper": "<= 1e-12 (criterion)", "ours": f"{checked['values_max_abs_diff']:.1e}"},
        {"quantity": "x.sum() and x_test.sum() (160,000 and 40,000 values): abs diff",
         "paper": "-51.78746787509559, +51.78746787509186", "ours": f"{checked['sums_max_abs_diff']:.1e}"},
    ]
    ref = record["checks"]["reference_package"]
    if ref:
        rows.append({"quantity": "max abs diff of x, x_test, t vs the original package; labels equal",
                     "paper": "<= 1e-12; equal", "ours": f"{ref['max_abs_diff']:.1e}; {ref['labels_equal']}"})
    return rows


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


def construction_steps(config: DatasetConfig, label: int = 3, seed: int = 0) -> list[tuple]:
    """One example made step by step by the generator's recipe: [(step name, t, x), ...].

    The random numbers come from ``RandomState(seed)`` exactly as the generator draws them for one example.
    """
    rs = np.random.RandomState(seed)
    d = draw_examples(rs, 1, config.working_length, config.max_translation)
    templates = get_templates()
    length = config.working_length
    t_work = np.interp(np.linspace(0, 1, length), np.linspace(0, 1, TEMPLATE_POINTS), templates.t)
    low, high = config.padding
    pad = low + int(d.pad_u[0] * (high - low + 1))
    row = np.concatenate([templates.x[label] + transforms.EPS, np.zeros(pad)])
    stretched = np.interp(np.linspace(0, 1, length), np.linspace(0, 1, len(row)), row)
    moved = transforms.translate(stretched[None] * (1 + config.scale_coeff * (d.scale_u[0] - 0.5)), d.shift)[0]
    background = transforms.gaussian_smooth(config.corr_noise_scale * d.normals[:, 0])[0]
    noisy = np.where(moved != 0, moved, background)
    noisier = noisy + config.iid_noise_scale * d.normals[0, 1]
    sheared = noisier - config.shear_scale * (d.shear_u[0] - 0.5) * np.linspace(-0.5, 0.5, length)
    final = transforms.linear_resample(sheared[None], config.final_seq_length)[0]
    t_final = np.interp(np.linspace(0, 1, config.final_seq_length), np.linspace(0, 1, length), t_work)
    return [
        ("template", templates.t, templates.x[label]),
        (f"pad {pad} + stretch", t_work, stretched),
        (f"scale, shift {int(d.shift[0])}", t_work, moved),
        ("+ smooth noise", t_work, noisy),
        ("+ white noise", t_work, noisier),
        ("shear", t_work, sheared),
        (f"resample to {config.final_seq_length}", t_final, final),
    ]


def draw_dataset_figure(dataset: Dataset, path, per_class: int = 2) -> dict:
    """Templates (top row), one example made step by step (second row) and `per_class` training examples
    of each digit (standardised, on [-6, 6]^2).

    Returns what was drawn (the example indices), for the JSON written beside the figure.
    """

    idx = example_indices(dataset, per_class)
    rows = 2 + per_class
    fig, axes = new_figure(rows, NUM_CLASSES, figsize=(1.3 * NUM_CLASSES, 1.55 * rows))
    for c in range(NUM_CLASSES):
        _vertical(axes[0, c], dataset.templates.x[c], dataset.templates.t, "tab:blue", 1.0)
        axes[0, c].set_title(str(c), fontsize=13)
        for row in range(per_class):
            _vertical(axes[2 + row, c], dataset.x[idx[c, row]], dataset.t, "black", 6.0)
    steps = construction_steps(dataset.config)
    for col, ax in enumerate(axes[1]):
        if col >= len(steps):
            ax.axis("off")
            continue
        name, t, x = steps[col]
        _vertical(ax, x, t, "tab:red", 1.0)
        ax.set_title(name, fontsize=8)
    axes[0, 0].set_ylabel("template", fontsize=9)
    axes[1, 0].set_ylabel("making a 3", fontsize=9)
    for row in range(per_class):
        axes[2 + row, 0].set_ylabel("example", fontsize=9)
    cfg = dataset.config
    fig.suptitle(
        f"MNIST-1D: templates, how an example is made, and training examples "
        f"({cfg.num_train:,} train / {cfg.num_test:,} test, seed {cfg.seed})",
        fontsize=11,
    )
    save_figure(fig, path)
    return {"example_indices": idx.tolist(), "construction": {"label": 3, "seed": 0}}


def write_dataset_figure(data_path=None, png_path="figures/dataset.png") -> tuple[Path, dict]:
    """Draw the dataset figure from a dataset file (default: generate the paper's data) and write its JSON.

    The JSON beside the PNG records the config, the arrays' SHA-256, the examples drawn and the provenance.
    """
    from mnist1d_jax.data.io import arrays_sha256, load_dataset

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
    try:  # the figure and its JSON together or not at all
        write_json(png_path.with_suffix(".json"), record)
    except BaseException:
        png_path.unlink(missing_ok=True)
        raise
    return png_path, record


def run(config: DatasetStudyConfig, ctx=None) -> dict:
    """The exactness checks and what the figure shows (the dataset itself is regenerated exactly by `draw`)."""
    from mnist1d_jax.data.classes import refuse_class_subset
    from mnist1d_jax.data.io import arrays_sha256

    refuse_class_subset(NAME, REFUSES_CLASS_SUBSET, None if ctx is None else ctx.classes)

    dataset = make_dataset()
    return {"checks": checks(), "dataset_config": dataset.config.to_dict(),
            "arrays_sha256": arrays_sha256(dataset.arrays()), "num_train": len(dataset.x),
            "num_test": len(dataset.x_test), "example_indices": example_indices(dataset, config.per_class),
            "construction": {"label": 3, "seed": 0}}


def draw(record: dict, out: Path) -> list[Path]:
    """``dataset.png``: templates, one example made step by step, training examples of every digit."""
    dataset = make_dataset(DatasetConfig.from_dict(record["dataset_config"]))
    png = Path(out) / "dataset.png"
    draw_dataset_figure(dataset, png, per_class=len(record["example_indices"][0]))
    return [png]
