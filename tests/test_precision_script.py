"""scripts/precision_effect.py end to end in its quick mode (a smoke test of the script; it measures nothing)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_precision_effect_quick_writes_json_and_table_and_resumes(tmp_path):
    env = {**os.environ, "MNIST1D_JAX_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, str(ROOT / "scripts" / "precision_effect.py"), "--quick", "--models", "logistic",
               "--out", str(tmp_path / "out"), "--no-progress"]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((tmp_path / "out" / "precision_effect.json").read_text())
    assert list(record["cells"]) == [f"{m}/{p}" for m in ("logistic",) for p in ("float32", "tf32", "bf16")]
    assert record["emulated"] is True and record["settings"]["seeds"] == 2
    for cell in record["cells"].values():
        assert len(cell["best_test_acc"]) == 2 and 0 <= cell["final_mean"] <= cell["best_mean"] <= 100
        assert cell["seconds"] > 0
    assert record["provenance"]["devices"]["backend"] == "cpu"
    table = (tmp_path / "out" / "precision_effect.md").read_text()
    assert "| logistic | bf16 |" in table and "| logistic | float32 |" in table
    # Run again: every cell is there with the same settings, so nothing is trained (and the file is unchanged).
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "precision_effect.json").read_text())["cells"] == record["cells"]
