"""The lottery study's rows for the paper-vs-ours report, from its record."""

from __future__ import annotations

import numpy as np

from mnist1d_jax.studies.lottery.config import CONDITIONS


def report_rows(record: dict) -> list[dict]:
    """Rows for the paper-vs-ours report."""
    s = np.asarray(record["sparsity"])
    lot = np.asarray(record["final"]["lottery"]["test_acc"]).mean(0)
    rnd = np.asarray(record["final"]["random"]["test_acc"]).mean(0)
    i = int(np.argmax(lot))
    ref = record["rounds"].index(record["reference_round"])
    rows = [
        {"quantity": "dense test accuracy (round 0, %)", "paper": "63.5-66", "ours": f"{lot[0]:.1f}"},
        {"quantity": "lottery peak test accuracy (%) at sparsity", "paper": "73-76 at 0.88-0.93",
         "ours": f"{lot[i]:.1f} at {s[i]:.2f}"},
        {"quantity": "lottery / random at round 91 (s = 0.92, %)", "paper": "~74-75 / ~60-62",
         "ours": f"{lot[ref]:.1f} / {rnd[ref]:.1f}"},
    ]
    abl = record["ablations"]["conditions"]
    paper = {"baseline": "70.5 / 63.7 / 59", "flipped": "68.8 / 64.6 / 60.8", "shuffled": "62.8 / 64.6 / 58",
             "reinit": "67.3 / 64 / 58.2"}
    for cond in CONDITIONS:
        c = abl[cond]
        rows.append({"quantity": f"ablation {cond}: plateau lottery / dense / random (%)",
                     "paper": paper[cond] + " (2020)",
                     "ours": f"{c['lottery']['plateau']:.1f} / {c['dense']['plateau']:.1f} / "
                             f"{c['random']['plateau']:.1f}"})
    adj = record["adjacency"]
    rows.append({"quantity": "adjacency p2 / p3 / p4, random", "paper": "0.0072 / 0.0009 / 0.0001 (2020)",
                 "ours": " / ".join(f"{adj['random'][k]['mean']:.5f}" for k in ("p2", "p3", "p4"))})
    rows.append({"quantity": "adjacency p2 / p3 / p4, lottery (correct p4)", "paper": "0.0086 / 0.0022 / 0.00035",
                 "ours": " / ".join(f"{adj['lottery'][k]['mean']:.5f}" for k in ("p2", "p3", "p4"))})
    t = record["timing"]
    per = t["searches_per_round"]
    abl_t = t["ablation"]
    # one program per model type, one after the other: the ablations' wall time is the sum over programs
    abl_s = sum(v["seconds"] for k, v in abl_t.items() if k != "this_process")
    rows.append({"quantity": "runtime per search-round (one trial, one criterion, 1,502 steps)",
                 "paper": "original 6.0 s wall per search-round, 40 min for the 400-round search",
                 "ours": f"{t['seconds_per_round'] / per:.1f} s wall, {t['cpu_seconds_per_round'] / per:.1f} s CPU "
                         f"(compiles included; shared CPU under load); search {t['search_seconds'] / 60:.1f} min "
                         f"for {len(record['rounds'])} rounds x {per} searches"})
    rows.append({"quantity": "runtime of the whole study (search + ablations)",
                 "paper": "original code: 40 min for the search alone",
                 "ours": f"{(t['search_seconds'] + abl_s) / 60:.1f} min (search {t['search_seconds'] / 60:.1f} + "
                         f"ablations {abl_s / 60:.1f}; rounds and ablation jobs summed over resumed processes)"})
    return rows
