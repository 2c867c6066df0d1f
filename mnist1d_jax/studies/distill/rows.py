"""The distillation study's rows for the report, and the per-set accuracies the figure shares."""

from __future__ import annotations

import numpy as np

from mnist1d_jax.runtime.results import mean_std

SET_LABELS = {"random": "random real", "kmeans": "k-means centres", "distilled": "distilled", "full": "all 3,500 real"}


def set_accuracies(model_record: dict) -> dict:
    """``{kind: test accuracies (flat)}`` in the figure's order."""
    b = model_record["baselines"]
    return {"random": np.ravel(b["random"]["test"]), "kmeans": np.ravel(b["kmeans"]["test"]),
            "distilled": np.ravel(model_record["distilled"]["test"]), "full": np.ravel(b["full"]["test"])}


def lr_text(log_lr) -> str:
    rates = np.exp(np.asarray(log_lr, float))
    return f"{float(rates):.3g}" if rates.ndim == 0 else f"{rates.min():.3g}-{rates.max():.3g} over the steps"


def report_rows(record: dict) -> list[dict]:
    rows = []
    k = record["config"]["per_class"]
    for name, r in record["models"].items():
        sets, chosen = set_accuracies(r), r["chosen"]
        d = r["distilled"]
        lead = float(np.mean(sets["distilled"]) - np.mean(sets["random"]))
        rows.append({"quantity": f"{name.upper()}: test accuracy, {k} distilled examples per class (T = "
                                 f"{chosen['steps']}, {chosen['estimator']} meta-gradient, chosen on validation; "
                                 f"{len(sets['distilled'])} unseen inits)",
                     "paper": "MNIST: 79.5 ± 8.1 (100 images, random inits)",
                     "ours": f"{mean_std(sets['distilled'])} (step size {lr_text(d['log_lr'])}; "
                             f"{lead:+.1f} over random real, goal >= +15)"})
        for kind in ("random", "kmeans", "full"):
            rows.append({"quantity": f"{name.upper()}: test accuracy, {SET_LABELS[kind]} (same inner run, step "
                                     f"{r['baselines'][kind]['lr']:g} chosen on validation)", "paper": "-",
                         "ours": mean_std(sets[kind])})
        rows.append({"quantity": f"{name.upper()}: meta-training per candidate (T, estimator)", "paper": "-",
                     "ours": ", ".join(f"T={c['steps']} {c['estimator']}: {c['seconds'] / 60:.1f} min "
                                       f"(validation {np.mean(c['val']):.1f})" for c in r["candidates"])})
    for pair, t in record["transfer"].items():
        source, target = pair.split("->")
        rows.append({"quantity": f"transfer: {source.upper()}'s distilled set trains the {target.upper()} "
                                 f"(T = {t['steps']}, step {t['lr']:g} on validation)", "paper": "-",
                     "ours": mean_std(np.ravel(t["test"]))})
    return rows
