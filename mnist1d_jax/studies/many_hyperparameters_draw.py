"""Report rows and the figure of the ``many_hyperparameters`` study, drawn from its record alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.runtime.figures import save_figure
from mnist1d_jax.runtime.results import mean_std

LABELS = {"implicit": "(c) implicit (Neumann)", "truncated": "(d) truncated backprop"}
COLOURS = {"implicit": "C0", "truncated": "C3"}


def _fixed(record: dict, key: str, row: int) -> np.ndarray:
    return np.asarray(record["fixed"][key], float)[row]


def report_rows(record: dict) -> list[dict]:
    cfg, best = record["config"], record["best_decay_index"]
    n = record["n_hyperparameters"]
    rows = [{"quantity": f"(a) no weight decay: test accuracy (%, {cfg['seeds']} seeds)", "paper": "-",
             "ours": f"{mean_std(_fixed(record, 'test_acc', 0))} "
                     f"(validation {mean_std(_fixed(record, 'val_acc', 0))})"},
            {"quantity": f"(b) best single weight decay {record['decays'][best]:g} of "
                         f"{len(record['decays']) - 1} on validation: test accuracy", "paper": "-",
             "ours": f"{mean_std(_fixed(record, 'test_acc', best))} "
                     f"(validation {mean_std(_fixed(record, 'val_acc', best))})"}]
    for method, r in record["learned"].items():
        c = {k: np.asarray(v, float) for k, v in r["curves"].items()}
        gap = (c["val_acc"] - c["test_acc"]).mean(0)  # [H]: validation minus test accuracy, mean over seeds
        gap0, gap1 = round(float(gap[0]), 1) or 0.0, round(float(gap[-1]), 1) or 0.0  # (no "-0.0")
        rows.append({"quantity": f"{LABELS[method]}: {n:,} decays learned, test accuracy at the end ("
                                 f"{cfg['inner_steps']} inner steps per hyper-step, "
                                 f"{cfg['total_steps'] // cfg['inner_steps']} hyper-steps)", "paper": "-",
                     "ours": f"{mean_std(c['test_acc'][:, -1])} (validation {mean_std(c['val_acc'][:, -1])}; "
                             f"validation − test {gap0:+.1f} after the first hyper-step, {gap1:+.1f} at the end)"})
        rt = {k: np.asarray(v, float) for k, v in r["retrained"].items()}
        rows.append({"quantity": f"{LABELS[method]}: the learned decays held fixed in a fresh run (same inits)",
                     "paper": "-", "ours": f"{mean_std(rt['test_acc'])} (validation {mean_std(rt['val_acc'])})"})
        if "stationarity" in c:  # how far the theorem's assumptions hold
            rows.append({"quantity": f"{LABELS[method]}: ‖∇_θ training loss‖ at the hyper-steps, and the Neumann "
                                     "solve's relative residual (medians over hyper-steps and seeds)", "paper": "-",
                         "ours": f"{np.median(c['stationarity']):.3g}, {np.median(c['solve_residual']):.2f}"})
        per = r["s_per_hyper_step"]
        rows.append({"quantity": f"{LABELS[method]}: seconds per hyper-step ({cfg['seeds']} seeds vmapped, compile "
                                 f"excluded; {r['name']})", "paper": "-",
                     "ours": f"{per:.3f} s ({r['wall_s'] / 60:.1f} min in all)" if per else
                             f"{r['wall_s'] / 60:.1f} min in all"})
    return rows


def _band(ax, x, values, colour, style, label):
    v = np.asarray(values, float)
    m, s = v.mean(0), v.std(0)
    ax.plot(x, m, color=colour, ls=style, label=label)
    ax.fill_between(x, m - s, m + s, color=colour, alpha=0.15, lw=0)


def draw(record: dict, out: str | Path) -> list[Path]:
    """``many_hyperparameters.png``: (1) validation and test accuracy after every hyper-step for (c) and (d),
    the baselines' final test accuracy as horizontal lines; (2) validation and test cross-entropy likewise;
    (3) the spread of the learned log10 decays per tensor (pooled over seeds) against the start and the best
    single decay."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg, best = record["config"], record["best_decay_index"]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8), gridspec_kw={"width_ratios": [1.1, 1.1, 1.3]})
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
        acc.axhline(_fixed(record, "test_acc", row).mean(), color=col, ls=":", label=f"{text}: test")
        loss.axhline(_fixed(record, "test_loss", row).mean(), color=col, ls=":", label=f"{text}: test")
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


__all__ = ["draw", "report_rows"]
