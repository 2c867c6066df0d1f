"""The learned-schedule study's figure, drawn from its record alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist1d_jax.runtime.figures import new_figure, save_figure


def draw(record: dict, out: Path) -> list[Path]:
    """``lr_schedule.png``: the schedules (learned per meta seed, best constant, best cosine), PES's objective
    vs outer step, and test accuracy per schedule (dots: evaluation seeds)."""
    fig, (ax_s, ax_o, ax_a) = new_figure(1, 3, figsize=(15, 4.2))
    for name, rates in record["rates"].items():
        style = {"lw": 2.0, "color": "black", "ls": "--"} if name == record["best_constant"] else (
            {"lw": 2.0, "color": "gray"} if name == record["best_cosine"] else {"lw": 1.2})
        ax_s.plot(np.asarray(rates), label=name, **style)
    ax_s.set(yscale="log", xlabel="inner step", ylabel="Adam learning rate", title="Schedules")
    ax_s.legend(fontsize=7)
    objective = np.asarray(record["objective"])
    for i, s in enumerate(record["meta_seeds"]):
        ax_o.plot(np.arange(1, objective.shape[1] + 1), objective[i], lw=1, label=f"meta seed {s}")
    ax_o.set(xlabel="outer step", ylabel="soft validation error, last steps (PES estimate)",
             title="Meta-objective")
    ax_o.legend(fontsize=7)
    names = [record["best_constant"], record["best_cosine"], *record["learned"]]
    for i, name in enumerate(names):
        accs = np.asarray(record["evaluation"][name]["test_acc"])
        ax_a.scatter(np.full(accs.shape, i), accs, s=12, color=f"C{i}")
        ax_a.errorbar(i, accs.mean(), yerr=accs.std(), fmt="o", color="black", capsize=3)
    ax_a.set_xticks(range(len(names)), [n.replace(" (", "\n(") for n in names], fontsize=7)
    ax_a.set(ylabel="test accuracy at the end (%)", title="Evaluated on fresh seeds")
    fig.suptitle(f"Learned learning-rate schedule, Table-1 MLP, Adam, {record['config']['inner_steps']} steps",
                 fontsize=9)
    return [save_figure(fig, Path(out) / "lr_schedule.png")]
