"""The double-descent study's figure, from its record only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.core.sweeps import width_at_params
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.studies.double_descent.config import N_CLASSES, PANELS

TITLES = {"mlp_clean": "MLP, clean labels (NLL)", "mlp_noisy": "MLP, 15% label noise (NLL)",
          "cnn_noisy": "CNN, 15% label noise (NLL)", "mlp_noisy_mse": "MLP, 15% label noise (MSE)"}


def draw(record: dict, out: str | Path) -> list[Path]:
    """``double_descent.png``: error vs width (top) and vs parameters (bottom), test solid, train dashed."""
    import matplotlib.ticker  # local: matplotlib costs half a second of every command's start-up

    panels = [p for p in PANELS if p in record["panels"]]
    fig, axes = new_figure(2, len(panels), figsize=(4.2 * len(panels), 7.2), squeeze=False)
    n = record["n_train"]
    for j, name in enumerate(panels):
        p = record["panels"][name]
        te, tr = np.asarray(p["test_error"]), np.asarray(p["train_error"])
        for row, xs in enumerate((np.asarray(p["widths"]), np.asarray(p["params"]))):
            ax = axes[row, j]
            for vals, style, lab in ((te, "-", "test"), (tr, "--", "train")):
                m = vals.mean(1)
                ax.plot(xs, m, style, color="C0" if p["loss"] == "nll" else "C3", marker="o", ms=3, label=lab)
                if vals.shape[1] > 1:
                    ax.fill_between(xs, vals.min(1), vals.max(1), alpha=0.2, color="C0" if p["loss"] == "nll"
                                    else "C3")
            if p["noisy_labels"]:
                ax.axhline(100 * record["config"]["noise"], color="gray", ls=":", lw=1)
            for thr, lab, c in ((n, "n", "k"), (n * N_CLASSES, "n·K", "C2")):
                pos = thr if row == 1 else width_at_params(p["model"], thr)
                ax.axvline(pos, color=c, ls="-.", lw=0.8, alpha=0.7)
                ax.text(pos, 68, f"{lab} ", color=c, fontsize=8, va="top", ha="right")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # no clutter on short log ranges
            ax.set_ylim(0, 70)
            ax.set_xlabel(("hidden width" if p["model"] == "mlp" else "channels") if row == 0 else "parameters")
            if j == 0:
                ax.set_ylabel("error (%)")
            if row == 0:
                pk = p["peak"]
                ax.set_title(f"{TITLES[name]}\npeak {pk['test_error']:.1f}% at {pk['width']} "
                             f"({pk['params']:,} params = {pk['params'] / n:.2f} n)", fontsize=9)
            ax.legend(fontsize=7, loc="upper right")
    cfg = record["config"]
    seeds = ", ".join(f"{name} {len(record['panels'][name]['seeds'])}" for name in panels)
    fig.suptitle(f"Deep double descent on MNIST-1D ({record['n_train']:,} train / {record['n_test']:,} test, "
                 f"{cfg['epochs']} epochs; seeds: {seeds})\n{record.get('label', '')}", fontsize=10)
    return [save_figure(fig, Path(out) / "double_descent.png", dpi=100)]
