"""The double-descent study's rows for the paper-vs-ours report, from its record."""

from __future__ import annotations

import numpy as np

from mnist1d_jax.runtime.results import seeds_text
from mnist1d_jax.studies.double_descent.config import N_CLASSES

# The original code's wall-clock minutes per panel (one seed of its 19 / 19 / 29 widths) on this machine.
ORIGINAL_PANEL_MINUTES = {"mlp_clean": 6.7, "mlp_noisy": 6.6, "cnn_noisy": 33.0}
ORIGINAL_POINTS = {"mlp_clean": 19, "mlp_noisy": 19, "cnn_noisy": 29}


def report_rows(record: dict) -> list[dict]:
    """Rows for the paper-vs-ours report."""
    rows = []
    P = record["panels"]

    def at(panel, w):
        p = P[panel]
        if w not in p["widths"]:
            return "n/a"
        i = p["widths"].index(w)
        return f"{np.mean(p['test_error'][i]):.1f} / {np.mean(p['train_error'][i]):.1f}"

    ni = record["label_noise"]
    rows.append({"quantity": "noisy labels selected / changed", "paper": "639 / 577",
                 "ours": f"{ni['selected']} / {ni['changed']}"})
    if "mlp_clean" in P:
        rows.append({"quantity": "MLP clean: test / train error at width 27, 300 (%)",
                     "paper": "41.0 / 12.1; 37.3 / 0", "ours": f"{at('mlp_clean', 27)}; {at('mlp_clean', 300)}"})
    if "mlp_noisy" in P:
        p = P["mlp_noisy"]
        rows.append({"quantity": "MLP noisy: minimum before peak (test %, width)", "paper": "47.2 at 16",
                     "ours": f"{p['minimum_before_peak']['test_error']:.1f} at {p['minimum_before_peak']['width']}"})
        rows.append({"quantity": "MLP noisy: peak (test %, width, params)", "paper": "~54.0 at 47-61 (4.7-6.9k)",
                     "ours": f"{p['peak']['test_error']:.1f} at {p['peak']['width']} ({p['peak']['params']:,})"})
        rows.append({"quantity": "MLP noisy: test error at width 300 (%)", "paper": "45.5",
                     "ours": at("mlp_noisy", 300)})
    if "cnn_noisy" in P:
        p = P["cnn_noisy"]
        low = p["minimum_before_peak"]
        row = {"quantity": "CNN noisy: minimum (test %, channels)", "paper": "19.6 at 10",
               "ours": f"{low['test_error']:.1f} at {low['width']}"}
        per_seed = np.asarray(p["test_error"][p["widths"].index(low["width"])], float)
        if abs(low["test_error"] - 19.6) > 1 and per_seed.size > 1:
            row["why"] = (f"a mean over {per_seed.size} seeds; the paper's 19.6 is one run, and one run at "
                          f"{low['width']} channels here ranges {per_seed.min():.1f}–{per_seed.max():.1f}")
        rows.append(row)
        rows.append({"quantity": "CNN noisy: peak (test %, channels, params)", "paper": "33.8 at 18 (2,998)",
                     "ours": f"{p['peak']['test_error']:.1f} at {p['peak']['width']} ({p['peak']['params']:,})"})
    if "mlp_noisy_mse" in P:
        p, q = P["mlp_noisy_mse"], P.get("mlp_noisy")
        n, nk = record["n_train"], record["n_train"] * N_CLASSES

        def where(panel):
            pk = panel["peak"]
            return (f"{pk['test_error']:.1f} % at {pk['params']:,} params (width {pk['width']}) = "
                    f"{pk['params'] / n:.2f} n = {pk['params'] / nk:.3f} n·K")

        rows.append({"quantity": "MSE vs NLL: test-error peak in parameters (n = 4,000; n·K = 40,000)",
                     "paper": "claim: MSE at n·K, NLL at n",
                     "ours": f"MSE {where(p)}; NLL " + (where(q) if q else "n/a")})
        for name, panel in (("MSE", p), ("NLL", q)):
            if panel and panel.get("first_interpolating"):
                fi = panel["first_interpolating"]
                rows.append({"quantity": f"{name}: first width with train error <= 0.5 % (interpolation)",
                             "paper": "MSE near n·K, NLL near n (claim)",
                             "ours": f"width {fi['width']} ({fi['params']:,} params = {fi['params'] / n:.2f} n)"})
    for name, minutes in ORIGINAL_PANEL_MINUTES.items():
        if name in P:
            rows.append({"quantity": f"runtime {name}: seconds per (width, seed) point",
                         "paper": f"original {60 * minutes / ORIGINAL_POINTS[name]:.1f} s/point "
                                  f"({minutes} min per seed)",
                         "ours": f"{P[name]['seconds_per_point']:.1f} s/point wall, "
                                 f"{P[name].get('cpu_seconds_per_point', float('nan')):.1f} s CPU; panel "
                                 f"{P[name]['seconds'] / 60:.1f} min for {P[name].get('timed_points', '?')} "
                                 f"(width, seed) points ({seeds_text(len(P[name]['seeds']))})"})
    return rows
