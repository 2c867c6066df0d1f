"""The many-hyperparameters study's figure, drawn from its record alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.studies.many_hyperparameters.rows import LABELS, fixed_metric

COLOURS = {"implicit": "C0", "truncated": "C3"}


def _band(ax, x, values, colour, style, label):
    """Mean over seeds (axis 0 of ``values [S, H]``) as a line, ± one std as a band."""
    v = np.asarray(values, float)
    m, s = v.mean(0), v.std(0)
    ax.plot(x, m, color=colour, ls=style, label=label)
    ax.fill_between(x, m - s, m + s, color=colour, alpha=0.15, lw=0)


def draw(record: dict, out: str | Path) -> list[Path]:
    """``many_hyperparameters.png``: (1) validation and test accuracy after every hyper-step for (c) and (d),
    the baselines' final test accuracy as horizontal lines; (2) validation and test cross-entropy likewise;
    (3) the spread of the learned log10 decays per tensor (pooled over seeds) against the start and the best
    single decay."""
    cfg, best = record["config"], record["best_decay_index"]
    fig, axes = new_figure(1, 3, figsize=(17, 4.8), gridspec_kw={"width_ratios": [1.1, 1.1, 1.3]})
    acc, loss, spread = axes
    for method, r in record["learned"].items():
        c = r["curves"]
        x = np.arange(1, np.shape(c["val_acc"])[1] + 1)
        col = COLOURS[method]
        _band(acc, x, c["val_acc"], col, "-", f"{LABELS[method]}: validation")
        _band(acc, x, c["test_acc"], col, "--", f"{LABELS[method]}: test")
        _band(loss, x, c["val_loss"], col, "-", f"{LABELS[method]}: validation")
        _band(loss, x, c["test_loss"], col, "--", f"{LABELS[method]}: test")
    for row, text, col in ((0, "(a) no decay", "0.5"), (best, f"(b) decay {record['decays'][best]:g}", "k")):
        acc.axhline(fixed_metric(record, "test_acc", row).mean(), color=col, ls=":", label=f"{text}: test")
        loss.axhline(fixed_metric(record, "test_loss", row).mean(), color=col, ls=":", label=f"{text}: test")
    acc.set(xlabel=f"hyper-step ({cfg['inner_steps']} inner steps each)", ylabel="accuracy (%)",
            title="Does the validation set get fitted? (mean ± std over seeds)")
    loss.set(xlabel="hyper-step", ylabel="cross-entropy", title="Validation (the hyper-objective) and test loss")
    acc.legend(fontsize=7), loss.legend(fontsize=7)
    layers = record["layers"]
    methods = list(record["learned"])
    width = 0.8 / max(len(methods), 1)
    for j, method in enumerate(methods):
        q = np.asarray(record["learned"][method]["spread"]["quantiles"], float)  # [tensors, 7] of log10 λ
        stats = [{"whislo": r[1], "q1": r[2], "med": r[3], "q3": r[4], "whishi": r[5], "fliers": [r[0], r[6]]}
                 for r in q]
        pos = np.arange(len(layers)) + (j - (len(methods) - 1) / 2) * width
        colour = COLOURS[method]
        spread.bxp(stats, positions=pos, widths=width * 0.8, patch_artist=True,
                   boxprops={"facecolor": colour, "alpha": 0.4, "edgecolor": colour},
                   medianprops={"color": colour}, whiskerprops={"color": colour}, capprops={"color": colour},
                   flierprops={"marker": "_", "markeredgecolor": colour, "markersize": 8})
        spread.plot([], [], color=colour, lw=6, alpha=0.4, label=f"{LABELS[method]} (box 25-75 %, whiskers "
                                                                 "5-95 %, ticks min / max)")
    spread.axhline(np.log10(cfg["initial_decay"]), color="0.5", ls="--", label="start")
    spread.axhline(np.log10(record["decays"][best]), color="k", ls=":", label="(b) best single decay")
    names = [layer["name"].replace("['", "").replace("']", " ").strip().replace("Dense_", "layer ")
             for layer in layers]
    spread.set_xticks(np.arange(len(layers)), [f"{name}\n({layer['size']:,})" for name, layer in zip(names, layers,
                                                                                                      strict=True)],
                      fontsize=7)
    spread.set(ylabel="log10 learned weight decay", title=f"{record['n_hyperparameters']:,} learned decays per tensor "
               "(all seeds)")
    spread.legend(fontsize=7)
    fig.suptitle("A weight decay per parameter of the Table-1 MLP, learned on 1,000 validation examples", fontsize=11)
    return [save_figure(fig, Path(out) / "many_hyperparameters.png")]
