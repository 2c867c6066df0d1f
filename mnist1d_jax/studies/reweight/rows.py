"""The reweighting study's rows for the report, from its record."""

from __future__ import annotations

import numpy as np

from mnist1d_jax.runtime.results import mean_std
from mnist1d_jax.studies.reweight.config import METHODS
from mnist1d_jax.studies.reweight.measures import peak_index


def report_rows(record: dict) -> list[dict]:
    """Peak width, test error per method there, the drop, the goal, and the noisy share among the lowest."""
    ms = record["methods"]
    i = peak_index(ms["plain"]["test_error"])
    w = record["widths"][i]
    err = {m: np.asarray(ms[m]["test_error"][i]) for m in METHODS}
    share, kept = np.asarray(record["noisy_share"]), np.asarray(record["noisy_share_kept"])
    low = int(100 * record["config"]["lowest"])
    rows = [{"quantity": "peak width of plain training (the largest rise of mean test error over its running "
                         "minimum)", "paper": "-", "ours": f"{w} ({record['params'][i]:,} params)"}]
    for m in METHODS:
        rows.append({"quantity": f"test error at the peak, {m} (%, {ms[m]['n_train']:,} training rows)",
                     "paper": "-", "ours": mean_std(err[m])})
    for m in (m for m in METHODS if m not in ("plain", "oracle")):
        drop = float(err["plain"].mean() - err[m].mean())
        rows.append({"quantity": f"drop at the peak, plain - {m} (points; goal >= 5)", "paper": "-",
                     "ours": f"{drop:.1f} (goal {'met' if drop >= 5 else 'not met'})"})
    sel = record["selection"]["mwnet"]
    tried = ", ".join(f"{lr:g}: {e:.1f}" for lr, e in zip(sel["meta_lrs"], sel["val_error"], strict=True))
    rows.append({"quantity": f"MW-Net Adam learning rate (chosen on the clean validation rows at width "
                             f"{sel['width']}, seed {sel['seed']}: their error in %)", "paper": "-",
                 "ours": f"{sel['chosen']:g} ({tried})"})
    sel = record["selection"]["prune"]
    tried = ", ".join(f"{f:g}: {e:.1f}" for f, e in zip(sel["fractions"], sel["val_error"], strict=True))
    rows.append({"quantity": "pruned share of the 3,800 noisy rows, least often kept first (chosen on the clean "
                             "validation rows: their error in %)", "paper": "-",
                 "ours": f"{sel['chosen']:g} ({tried}); {sel['wrong_labels']} wrong labels left"})
    rows.append({"quantity": f"wrong labels among the lowest-weighted {low} % (weights averaged over all of "
                             f"training; base rate {100 * record['base_rate']:.1f} %)", "paper": "-",
                 "ours": f"{mean_std(100 * share[i])} at the peak; {100 * share.mean():.1f} over all widths"})
    rows.append({"quantity": f"wrong labels among the {low} % least often kept (share of an example's steps with a "
                             "positive weight)", "paper": "-",
                 "ours": f"{mean_std(100 * kept[i])} at the peak; {100 * kept.mean():.1f} over all widths"})
    mw = np.asarray(record["noisy_share_mwnet"])
    rows.append({"quantity": f"wrong labels among MW-Net's lowest-weighted {low} % (mean weight over training)",
                 "paper": "-", "ours": f"{mean_std(100 * mw[i])} at the peak; {100 * mw.mean():.1f} over all widths"})
    return rows
