"""scripts/tsne.py end to end on a tiny subsample."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from mnist1d_jax.studies.tsne import knn_accuracy

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_quick_run_writes_numbers_then_figure(tmp_path):
    subprocess.run([sys.executable, SCRIPTS / "tsne.py", "--quick", "--out", tmp_path], check=True,
                   capture_output=True)
    record = json.loads((tmp_path / "tsne.json").read_text())
    assert set(record["datasets"]) == {"image_digits", "mnist1d"}
    assert record["datasets"]["mnist1d"]["n"] == 300
    assert (tmp_path / "tsne.png").stat().st_size > 10_000
    (tmp_path / "tsne.png").unlink()
    subprocess.run([sys.executable, SCRIPTS / "tsne.py", "--redraw", "--out", tmp_path], check=True,
                   capture_output=True)
    assert (tmp_path / "tsne.png").exists()


def test_knn_accuracy_separable_and_random():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 30)
    separable = y[:, None] * 10.0 + rng.normal(size=(300, 2))
    assert knn_accuracy(separable, y, 10) == 100.0
    assert knn_accuracy(rng.normal(size=(300, 2)), y, 10) < 30.0
