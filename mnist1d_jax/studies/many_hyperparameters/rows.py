"""The many-hyperparameters study's rows of the report, read from its record alone."""

from __future__ import annotations

import numpy as np

from mnist1d_jax.runtime.results import mean_std

LABELS = {"implicit": "(c) implicit (Neumann)", "truncated": "(d) truncated backprop"}


def fixed_metric(record: dict, key: str, row: int) -> np.ndarray:
    """``[S]``: metric `key` of the fixed-decay run `row` (0: no decay, then the grid's decays) per seed."""
    return np.asarray(record["fixed"][key], float)[row]


def report_rows(record: dict) -> list[dict]:
    """Test accuracy (%) of (a) no decay, (b) the best single decay, and per learned-decay method: the learned
    decays at the end and held fixed in a fresh run, how far the implicit method's assumptions hold, and the
    seconds per hyper-step."""
    cfg, best = record["config"], record["best_decay_index"]
    n = record["n_hyperparameters"]
    rows = [{"quantity": f"(a) no weight decay: test accuracy (%, {cfg['seeds']} seeds)", "paper": "-",
             "ours": f"{mean_std(fixed_metric(record, 'test_acc', 0))} "
                     f"(validation {mean_std(fixed_metric(record, 'val_acc', 0))})"},
            {"quantity": f"(b) best single weight decay {record['decays'][best]:g} of "
                         f"{len(record['decays']) - 1} on validation: test accuracy", "paper": "-",
             "ours": f"{mean_std(fixed_metric(record, 'test_acc', best))} "
                     f"(validation {mean_std(fixed_metric(record, 'val_acc', best))})"}]
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
