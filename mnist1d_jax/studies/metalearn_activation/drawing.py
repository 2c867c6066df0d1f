"""The learned-activation study's figures, drawn from its record alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.studies.metalearn_activation.evaluation import BASELINE_ORDER

COLORS = {"relu": "gold", "swish": "orange", "gelu": "brown", "elu": "red", "softplus": "purple", "tanh": "blue",
          "sigmoid": "green", "pwl_paper": "gray", "pwl_own": "black"}


def draw(results: dict, out: str | Path) -> list[Path]:
    """``metalearn_activation.png``: objective, test accuracy (+ baselines) and f coloured by outer step."""
    import matplotlib.cm  # local: matplotlib costs half a second of every command's start-up
    import matplotlib.colors

    curves = {k: np.asarray(v) for k, v in results["curves"].items()}
    steps = np.arange(curves["objective"].shape[1])
    fig, axes = new_figure(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for s, seed in enumerate(results["seeds"]):
        ax.plot(steps, curves["objective"][s], lw=1, label=f"seed {seed}")
    best = results.get("best_iterate")
    if best is not None:  # the selected iterates: lowest meta-objective per seed
        ax.scatter(best["outer_step"], best["objective"], marker="v", color="black", zorder=3,
                   label="lowest objective (selected)")
    ax.set(xlabel="outer step", ylabel="meta-objective (mean of inner losses 101-300)", title="Outer objective")
    ax.legend(fontsize=8)
    ax = axes[1]
    acc = curves["test_acc"]
    ax.plot(steps, acc.mean(0), color="black", lw=1.5, label="learned (mean over seeds)")
    ax.fill_between(steps, acc.min(0), acc.max(0), color="black", alpha=0.15)
    if "learned_best" in results["summary"]:
        m = results["summary"]["learned_best"]["mean"]
        ax.axhline(m, color="black", lw=1.5, ls=":", label=f"selected iterate {m:.1f}")
    for k in BASELINE_ORDER:
        if k in results["summary"]:
            m = results["summary"][k]["mean"]
            ax.axhline(m, color=COLORS[k], lw=1, ls="--" if k.startswith("pwl") else "-", label=f"{k} {m:.1f}")
    ax.set(xlabel="outer step", ylabel="test accuracy, first 500 test examples (%)", title="Test accuracy")
    ax.legend(fontsize=7, ncol=2)
    ax = axes[2]
    grid = np.asarray(results["grid"])
    f = np.asarray(results["learned_function"])[0]
    cmap = matplotlib.colormaps["viridis"]
    every = max(1, len(f) // 30)
    for t in range(0, len(f), every):
        ax.plot(grid, f[t], color=cmap(t / max(1, len(f) - 1)), lw=1)
    ax.plot(grid, f[-1], color=cmap(1.0), lw=2, label="final iterate")
    if best is not None:
        ax.plot(grid, np.asarray(best["function"])[0], color="crimson", lw=2, ls="--",
                label=f"selected (outer step {int(np.asarray(best['outer_step'])[0])})")
    ax.legend(fontsize=8, loc="upper left")
    sm = matplotlib.cm.ScalarMappable(cmap=cmap, norm=matplotlib.colors.Normalize(0, len(f)))
    fig.colorbar(sm, ax=ax, label="outer step")
    ax.set(xlim=(-5, 5), ylim=(-1.5, 4), xlabel="x", ylabel="f(x)",
           title=f"Learned f = ELU + 0.2 g, g {results['g_architecture']} (seed {results['seeds'][0]})")
    label = "exact" if results.get("exact", True) else f"g tabulated ({results['config']['g_table']} nodes)"
    title = f"Metalearned activation, {len(results['seeds'])} seeds, {len(steps)} outer steps, {label}"
    if results.get("stopped_early"):
        title += f"\nSTOPPED EARLY after {results['completed_outer_steps']} of {results['config']['outer_steps']}"
        title += " outer steps: " + results["stopped_early"]
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return [save_figure(fig, Path(out) / "metalearn_activation.png", dpi=110, tight=False),
            draw_estimators(results, out)]


def draw_estimators(results: dict, out: str | Path) -> Path:
    """``metalearn_activation_estimators.png``: per meta-gradient estimator (the headline run and, if run, the
    exact one), the current iterate's test accuracy and the meta-gradient norm vs outer step (mean over seeds,
    band min-max), with the best standard baseline and the +5-point target."""
    runs = [(results.get("estimator_label", "exact unroll"), results["curves"])]
    if results.get("paper_faithful"):
        runs.append((results["paper_faithful"]["estimator_label"], results["paper_faithful"]["curves"]))
    fig, (ax_acc, ax_grad) = new_figure(1, 2, figsize=(12, 4.2))
    for c, (label, curves) in enumerate(runs):
        for ax, name in ((ax_acc, "test_acc"), (ax_grad, "grad_log10_norm")):
            values = np.asarray(curves[name], float)
            steps = np.arange(values.shape[1])
            ax.plot(steps, values.mean(0), color=f"C{c}", lw=1.5, label=label)
            ax.fill_between(steps, values.min(0), values.max(0), color=f"C{c}", alpha=0.15)
    s = results["summary"]
    base = s[s["best_baseline"]]["mean"]
    ax_acc.axhline(base, color="gold", lw=1.2, label=f"best standard baseline ({s['best_baseline']}) {base:.1f}")
    ax_acc.axhline(base + 5, color="gold", lw=1.2, ls="--", label="baseline + 5 points")
    ax_acc.set(xlabel="outer step", ylabel="test accuracy of the current iterate (%)",
               title="Learned activation, test accuracy by estimator")
    ax_grad.set(xlabel="outer step", ylabel="log10 ‖meta-gradient‖ (before clipping)",
                title="Meta-gradient norm by estimator")
    for ax in (ax_acc, ax_grad):
        ax.legend(fontsize=8)
    fig.suptitle(f"g {results['g_architecture']}, {len(results['seeds'])} seeds (band: min-max over seeds)",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, Path(out) / "metalearn_activation_estimators.png", dpi=110, tight=False)
