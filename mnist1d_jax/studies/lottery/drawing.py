"""The lottery study's figures, from its record (and mask arrays) only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.studies.lottery.config import CONDITIONS, MODELS
from mnist1d_jax.studies.lottery.rows import report_rows

COLORS = {"lottery": "tab:blue", "random": "tab:red", "dense": "k"}


def _band(ax, x, vals, color, label, ls="-"):
    vals = np.asarray(vals, np.float64)
    m = vals.mean(0)
    ax.plot(x, m, ls, color=color, label=label, lw=1.3)
    if vals.shape[0] > 1:
        e = vals.std(0) / np.sqrt(vals.shape[0])
        ax.fill_between(x, m - e, m + e, color=color, alpha=0.2)


def draw(rec: dict, out: str | Path) -> list[Path]:
    """``lottery.png`` (panels a-g) and ``lottery_masks.png``, from the record and its mask arrays."""
    out_dir = Path(out)
    s = np.asarray(rec["sparsity"])
    fig, unused = new_figure(figsize=(17, 8.2))
    unused.remove()  # the panels sit on a 2 x 6 grid of their own, some spanning two columns
    grid = fig.add_gridspec(2, 6)
    ax_a, ax_b = fig.add_subplot(grid[0, 0:2]), fig.add_subplot(grid[0, 2:4])
    for crit in ("random", "lottery"):
        f = rec["final"][crit]
        _band(ax_a, s, f["test_loss"], COLORS[crit], crit)
        _band(ax_b, s, f["test_acc"], COLORS[crit], crit)
    dense_loss = np.mean(np.asarray(rec["final"]["lottery"]["test_loss"])[:, 0])
    dense_acc = np.mean(np.asarray(rec["final"]["lottery"]["test_acc"])[:, 0])
    ax_a.axhline(dense_loss, color="k", ls="--", lw=1, label="dense")
    ax_b.axhline(dense_acc, color="k", ls="--", lw=1, label="dense")
    ax_a.set_yscale("log")
    ax_a.set(title="a. final test loss vs sparsity", xlabel="sparsity", ylabel="test loss")
    ax_b.set(title="b. final test accuracy vs sparsity", xlabel="sparsity", ylabel="test accuracy (%)")
    ax_a.legend(fontsize=8)
    ax_b.legend(fontsize=8)
    abl = rec["ablations"]
    steps = np.asarray(abl["steps"])
    titles = {"baseline": "c. 92% ticket, new data", "flipped": "d. flipped inputs", "shuffled": "e. shuffled inputs",
              "reinit": "f. re-initialised weights"}
    slots = [grid[0, 4], grid[0, 5], grid[1, 0], grid[1, 1]]
    for slot, cond in zip(slots, CONDITIONS, strict=True):
        ax = fig.add_subplot(slot)
        for m in MODELS:
            c = abl["conditions"][cond][m]
            _band(ax, steps, c["test_acc"], COLORS[m], f"{m} {c['plateau']:.1f}")
        ax.set_ylim(50, 78)
        ax.set(title=titles[cond], xlabel="step")
        ax.legend(fontsize=7, loc="lower right")
    adj = rec["adjacency"]
    for j, k in enumerate(("p2", "p3", "p4")):
        ax = fig.add_subplot(grid[1, 2 + j])
        means = [adj["random"][k]["mean"], adj["lottery"][k]["mean"]]
        sems = [adj["random"][k]["sem"], adj["lottery"][k]["sem"]]
        ax.bar([0, 1], means, yerr=sems, color=[COLORS["random"], COLORS["lottery"]], capsize=4)
        ax.set_xticks([0, 1], ["random", "lottery"])
        ax.set_title(f"g. {k}: {k[1]} adjacent kept inputs", fontsize=9)
    ax = fig.add_subplot(grid[1, 5])
    ax.axis("off")
    t = rec["timing"]
    rows = report_rows(rec)
    text = "\n".join(f"{r['quantity']}\n   paper {r['paper']}\n   ours  {r['ours']}" for r in rows[:-2])
    ax.text(-0.25, 1.02, f"rounds: {len(rec['rounds'])}, trials: {rec['config']['trials']}\n"
            f"search: {t['search_seconds'] / 60:.1f} min ({t['seconds_per_round']:.1f} s per round of "
            f"{t['searches_per_round']} searches)\n{rows[-1]['ours']}\nlottery p4 with the original's slip: "
            f"{adj['lottery_p4_with_original_slip']:.5f}\n\n{text}", fontsize=6, va="top", family="monospace",
            transform=ax.transAxes)
    fig.suptitle(f"Lottery tickets on MNIST-1D (width-{rec['config']['width']} residual MLP; "
                 f"{len(rec['rounds'])} rounds, {rec['config']['trials']} trials)", fontsize=12)
    path = save_figure(fig, out_dir / "lottery.png", dpi=90)

    images = {k[len("image_"):]: np.asarray(v) for k, v in rec["arrays"].items() if k.startswith("image_")}
    names = sorted(images, key=lambda k: (not k.startswith("random"), k))
    fig, axes = new_figure(len(names), 1, figsize=(12, 1.3 * len(names) + 0.6), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        img = images[name]
        ax.imshow(1 - img, cmap="gray", aspect="auto", interpolation="nearest", vmin=0, vmax=1)
        ax.set_title(f"{name}: {100 * (1 - img.mean()):.1f}% of first-layer weights pruned (round "
                     f"{rec['reference_round']})", fontsize=9)
        ax.set_xticks([])
        ax.set_ylabel("input")
    return [path, save_figure(fig, out_dir / "lottery_masks.png", dpi=90)]
