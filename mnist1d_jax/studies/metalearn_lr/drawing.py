"""The learning-rate study's figures, drawn from its record alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.runtime.figures import new_figure, save_figure


def draw(results: dict, out: str | Path) -> list[Path]:
    """``metalearn_lr.png``, three panels vs outer step: outer objective, final inner loss, learning rate
    (trials bold, sweep thin); with estimators in the record also `draw_estimators`' figure."""
    curves = {k: np.asarray(v) for k, v in results["curves"].items()}
    runs = results["runs"]
    steps = np.arange(1, curves["objective"].shape[1] + 1)
    fig, axes = new_figure(1, 3, figsize=(14, 4))
    panels = [("objective", "outer objective (mean inner loss)"), ("final_inner_loss", "final inner loss"),
              ("learning_rate", "learning rate η (after the update)")]
    colors = {1.5: "tab:red", 0.15: "tab:blue"}
    for ax, (key, label) in zip(axes, panels, strict=True):
        for i, r in enumerate(runs):
            c = colors.get(r["initial_lr"], "tab:gray")
            if r["group"] == "trial":
                ax.plot(steps, curves[key][i], color=c, lw=2, label=f"trial η₀={r['initial_lr']}")
            else:
                ax.plot(steps, curves[key][i], color=c, lw=0.6, alpha=0.35)
        ax.set(xlabel="outer step", ylabel=label)
    axes[0].set_ylim(top=1.75)
    conv = results["converged_lr"]
    axes[2].axhline(0.62, color="k", ls=":", lw=1, label="paper 0.62")
    axes[2].legend(fontsize=8)
    sweep = (f"; sweep over {len(results['config']['sweep_init_seeds'])} inits "
             f"from η₀ alternately {results['config'].get('sweep_initial_lrs') or results['config']['initial_lrs']}: "
             f"{conv['sweep_mean']:.3f} ± {conv['sweep_std']:.3f}" if conv["sweep_mean"] is not None else "")
    trials = ", ".join(f"{float(v):.3f}" for v in conv["trials"].values())
    fig.suptitle(f"Metalearned SGD learning rate: trials converge to {trials}{sweep} (thin lines: other inits)",
                 fontsize=10)
    fig.tight_layout()
    paths = [save_figure(fig, Path(out) / "metalearn_lr.png", dpi=110, tight=False)]
    if results.get("estimators"):
        paths.append(draw_estimators(results, out))
    return paths


def draw_estimators(results: dict, out: str | Path) -> Path:
    """``metalearn_lr_estimators.png``: η vs outer step for each estimator (colour) and trial (solid: the
    first η₀, dashed: the second, ...), with the band 0.62 ± 0.03 around the paper's value."""
    fig, ax = new_figure(figsize=(7, 4))
    ax.axhspan(0.59, 0.65, color="k", alpha=0.08, label="paper 0.62 ± 0.03")
    styles = ("-", "--", ":", "-.")
    for c, est in enumerate(results["estimators"].values()):
        lrs = np.asarray(est["learning_rate"])
        steps = np.arange(1, lrs.shape[1] + 1)
        for i in range(lrs.shape[0]):
            ax.plot(steps, lrs[i], color=f"C{c}", ls=styles[i % len(styles)], lw=1.5,
                    label=f"{est['name']}" if i == 0 else None)
    ax.set(xlabel="outer step", ylabel="learning rate η (after the update)",
           title="Learned η with each meta-gradient estimator (solid: from "
                 + ", dashed: from ".join(next(iter(results["estimators"].values()))["final_lr"]) + ")")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, Path(out) / "metalearn_lr_estimators.png", dpi=110, tight=False)
