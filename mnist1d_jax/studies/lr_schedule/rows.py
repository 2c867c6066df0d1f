"""The learned-schedule study's rows of the report, read from its record alone."""

from __future__ import annotations

import numpy as np

from mnist1d_jax.runtime.results import mean_std, seeds_text


def learned_test_accuracy(record: dict) -> np.ndarray:
    """``[meta seeds]``: each learned schedule's test accuracy (%), averaged over the evaluation seeds."""
    return np.array([np.mean(record["evaluation"][n]["test_acc"]) for n in record["learned"]])


def report_rows(record: dict) -> list[dict]:
    """Test accuracy of the best constant rate, the best cosine decay (both chosen on validation) and the
    learned schedules, and the runtime of meta-training and evaluation."""
    ev, n_eval = record["evaluation"], len(record["eval_seeds"])
    rows = []
    for label, name in (("best constant rate", record["best_constant"]), ("best cosine decay", record["best_cosine"])):
        rows.append({"quantity": f"test accuracy after {record['config']['inner_steps']} steps, {label} "
                                 f"({name}, chosen on validation; {seeds_text(n_eval)})", "paper": "-",
                     "ours": mean_std(ev[name]["test_acc"])})
    learned = learned_test_accuracy(record)
    rows.append({"quantity": f"test accuracy, learned schedule (PES; {seeds_text(len(learned))} of meta-training, "
                             f"each evaluated on {seeds_text(n_eval)})", "paper": "-",
                 "ours": f"{mean_std(learned)} (per meta seed: " + ", ".join(f"{v:.1f}" for v in learned) + ")"})
    rt = record["runtime"]
    rows.append({"quantity": "runtime: meta-training / evaluation of every schedule", "paper": "-",
                 "ours": f"{rt['meta_training_s'] / 60:.1f} min / {rt['evaluation_s']:.0f} s"})
    return rows
