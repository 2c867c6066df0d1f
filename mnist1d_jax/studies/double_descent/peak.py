"""Where a double-descent panel's test error peaks, from its table alone."""

from __future__ import annotations

import numpy as np


def find_peak(panel: dict) -> dict:
    """Where the mean test error rises most above its running minimum (the double-descent peak), the minimum
    before it, and the error at the largest width. Widths/params reported with each."""
    err = np.mean(np.asarray(panel["test_error"]), axis=1)
    run_min = np.minimum.accumulate(err)
    i_peak = int(np.argmax(err - run_min))
    i_min = int(np.argmin(err[: i_peak + 1]))
    tr = np.mean(np.asarray(panel["train_error"]), axis=1)
    zero = [i for i in range(len(tr)) if tr[i] <= 0.5]
    return {"peak": {"width": panel["widths"][i_peak], "params": panel["params"][i_peak],
                     "test_error": float(err[i_peak]), "train_error": float(tr[i_peak])},
            "minimum_before_peak": {"width": panel["widths"][i_min], "params": panel["params"][i_min],
                                    "test_error": float(err[i_min])},
            "largest": {"width": panel["widths"][-1], "params": panel["params"][-1], "test_error": float(err[-1])},
            "first_interpolating": ({"width": panel["widths"][zero[0]], "params": panel["params"][zero[0]]}
                                    if zero else None)}
