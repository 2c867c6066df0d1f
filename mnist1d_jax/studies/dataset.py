"""The dataset study (paper Fig. 1 and the generator's acceptance criterion, EXPERIMENTS.md §1.1–1.2).

Draws the dataset figure and checks the regenerated default dataset against the frozen file's published
fingerprints, plus the original package's output when it is installed.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from mnist1d_jax.devices import main_on_all_cores
from mnist1d_jax.generator import make_dataset
from mnist1d_jax.plots import write_dataset_figure
from mnist1d_jax.results import read_json, write_json
from mnist1d_jax.studies.common import study_parser

# Fingerprints of the frozen mnist1d_data.pkl (EXPERIMENTS.md §1.2).
FROZEN = {
    "x[0, :4]": [-0.3320056673693902, -0.4719103656557236, -0.7786970762934950, -1.0097408265367047],
    "x_test[0, :4]": [-0.07877078047732886, -0.21073170588642925, -0.09175138109239452, 0.28267111736736455],
    "x.sum()": -51.78746787509559,
    "x_test.sum()": 51.78746787509186,
    "t[0]": -5.38753506670427,
    "y[:20]": [2, 6, 4, 5, 6, 6, 6, 0, 3, 1, 6, 9, 4, 3, 4, 5, 1, 9, 0, 3],
    "y_test[:20]": [2, 6, 3, 9, 4, 3, 1, 9, 5, 2, 0, 7, 7, 1, 4, 6, 1, 4, 3, 9],
}


def checks() -> dict:
    """Max deviation from every published fingerprint, and from the original package if installed."""
    start = time.perf_counter()
    data = make_dataset()
    seconds = time.perf_counter() - start
    ours = {
        "x[0, :4]": data.x[0, :4], "x_test[0, :4]": data.x_test[0, :4], "x.sum()": data.x.sum(),
        "x_test.sum()": data.x_test.sum(), "t[0]": data.t[0], "y[:20]": data.y[:20], "y_test[:20]": data.y_test[:20],
    }
    diffs = {k: float(np.abs(np.asarray(ours[k]) - np.asarray(v)).max()) for k, v in FROZEN.items()}
    record = {
        "fingerprint_diffs": diffs,
        "values_max_abs_diff": max(v for k, v in diffs.items() if "sum" not in k),
        "sums_max_abs_diff": max(v for k, v in diffs.items() if "sum" in k),
        "generate_seconds": seconds,
        "reference_package": None,
    }
    try:
        from mnist1d.data import get_dataset_args
        from mnist1d.data import make_dataset as reference_make_dataset
    except ImportError:
        return record
    state = np.random.get_state()
    reference = reference_make_dataset(get_dataset_args())
    np.random.set_state(state)
    record["reference_package"] = {
        "max_abs_diff": max(float(np.abs(getattr(data, k) - reference[k]).max()) for k in ("x", "x_test", "t")),
        "labels_equal": bool(
            np.array_equal(data.y, reference["y"]) and np.array_equal(data.y_test, reference["y_test"])
        ),
    }
    return record


def summarize(record: dict) -> list[dict]:
    checked = record["checks"]
    rows = [
        {"quantity": "frozen file's fingerprint values (x[0, :4], x_test[0, :4], t[0], labels): max abs diff",
         "paper": "<= 1e-12 (criterion)", "ours": f"{checked['values_max_abs_diff']:.1e}"},
        {"quantity": "x.sum() and x_test.sum() (160,000 and 40,000 values): abs diff",
         "paper": "-51.78746787509559, +51.78746787509186", "ours": f"{checked['sums_max_abs_diff']:.1e}"},
    ]
    ref = record["checks"]["reference_package"]
    if ref:
        rows.append({"quantity": "max abs diff of x, x_test, t vs the original package; labels equal",
                     "paper": "<= 1e-12; equal", "ours": f"{ref['max_abs_diff']:.1e}; {ref['labels_equal']}"})
    return rows


def main(argv=None) -> int:
    parser = study_parser("The dataset figure and the exactness checks",
                          quick_help="no difference: this study takes seconds")
    args = parser.parse_args(argv)
    png, _ = write_dataset_figure(None, args.out / "dataset.png")
    record = read_json(png.with_suffix(".json"))
    record["checks"] = checks()
    write_json(png.with_suffix(".json"), record)
    print(f"wrote {png}; fingerprint max abs diff {record['checks']['values_max_abs_diff']:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
