"""The reweighting study's figure, from its record only (`experiment` computes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.studies.reweight.config import LABELS, METHODS
from mnist1d_jax.studies.reweight.measures import peak_index


def draw(record: dict, out: str | Path) -> list[Path]:
    """``reweight.png``: test error vs width for every method (mean ± std over seeds; train error dashed);
    the share of wrong labels among the lowest-weighted (both methods) and the least often kept examples vs
    width; and, at the peak width, the mean example weights (both methods) and reweighting's kept shares, wrong
    vs right labels."""
    import matplotlib.ticker  # local: matplotlib costs half a second of every command's start-up

    widths, ms = np.asarray(record["widths"]), record["methods"]
    i_peak = peak_index(ms["plain"]["test_error"])
    cfg = record["config"]
    fig, axes = new_figure(2, 2, figsize=(13, 9))
    ax = axes[0, 0]
    for j, m in enumerate(m for m in METHODS if m in ms):
        te, tr = np.asarray(ms[m]["test_error"]), np.asarray(ms[m]["train_error"])
        ax.errorbar(widths, te.mean(1), yerr=te.std(1), color=f"C{j}", marker="o", ms=4, capsize=3,
                    label=f"{LABELS[m]}, test")
        ax.plot(widths, tr.mean(1), "--", color=f"C{j}", lw=1, alpha=0.7)
    ax.plot([], [], "--", color="gray", lw=1, label="train error (on each method's own labels)")
    ax.axvline(widths[i_peak], color="k", ls=":", lw=1)
    top = max(70.0, max(np.max(ms[m]["test_error"]) for m in METHODS if m in ms) + 5)
    ax.set(ylabel="error (%)", ylim=(0, top), title=f"Test error vs width (peak of plain training at {widths[i_peak]})")
    ax.legend(fontsize=7, loc="lower left")

    ax = axes[0, 1]
    low = f"{100 * cfg['lowest']:.0f} %"
    for key, lab, c in (("noisy_share", f"reweighting: lowest mean weight, {low}", "C1"),
                        ("noisy_share_kept", f"reweighting: least often kept, {low}", "C4"),
                        ("noisy_share_mwnet", f"MW-Net: lowest mean weight, {low}", "C3")):
        if key not in record:
            continue
        share = 100 * np.asarray(record[key])
        ax.errorbar(widths, share.mean(1), yerr=share.std(1), color=c, marker="o", ms=4, capsize=3, label=lab)
    ax.axhline(100 * record["base_rate"], color="gray", ls="--", label="base rate (all training rows)")
    ax.set(ylabel="wrong labels (%)", ylim=(0, 100),
           title="Wrong labels among the examples the weights rank lowest\n(over all of training)")
    ax.legend(fontsize=7)
    for ax in axes[0]:  # every width labelled, no log-scale minor labels
        ax.set(xscale="log", xlabel="hidden width")
        ax.set_xticks(widths, [str(w) for w in widths], fontsize=8)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())

    arrays = record.get("arrays") or {}
    noisy = np.asarray(arrays.get("noisy", []), bool)
    for ax, key, scale, xlabel in ((axes[1, 0], "example_weight", cfg["batch_size"],
                                    "mean weight x batch size (1 = uniform)"),
                                   (axes[1, 1], "example_kept", 100, "steps with a positive weight (%)")):
        if key in arrays:
            v = np.asarray(arrays[key]) * scale  # (S, N) at the peak width
            bins = np.linspace(0, max(float(np.quantile(v, 0.995)), 1e-6), 40)
            mw = np.asarray(arrays["mwnet_weight"]) * scale if key == "example_weight" and "mwnet_weight" in arrays \
                else None
            if mw is not None:
                bins = np.linspace(0, max(float(np.quantile(v, 0.995)), float(np.quantile(mw, 0.995)), 1e-6), 50)
            for j, (sel, lab) in enumerate(((~noisy, "right labels"), (noisy, "wrong labels"))):
                ax.hist(v[:, sel].ravel(), bins=bins, density=True, alpha=0.55, color=f"C{2 + j}",
                        label=f"reweighting, {lab}")
                if mw is not None:  # MW-Net's weights are a smooth function of the loss: narrow, outlined
                    ax.hist(mw[:, sel].ravel(), bins=bins, density=True, histtype="step", lw=1.5,
                            color=f"C{2 + j}", ls="--", label=f"MW-Net, {lab}")
            ax.legend(fontsize=7)
        ax.set(xlabel=xlabel, ylabel="density", title=f"Reweighted runs at width {widths[i_peak]} (all seeds)")
    fig.suptitle(f"Learning to reweight examples on MNIST-1D with {100 * cfg['noise']:.0f} % label noise: "
                 f"{cfg['n_clean']} clean validation rows, {cfg['epochs']} epochs, {len(record['seeds'])} seeds "
                 "(mean ± std)", fontsize=10)
    return [save_figure(fig, Path(out) / "reweight.png", dpi=100)]
