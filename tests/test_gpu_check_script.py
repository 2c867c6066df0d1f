"""scripts/gpu_check.py end to end in its quick mode on this machine (what it measures needs an accelerator)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _check(tmp_path, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--quick", "--out",
                           str(tmp_path), *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_quick_check_writes_its_table_and_json(tmp_path):
    done = _check(tmp_path, "--studies", "dataset", "tsne", "--budget", "600")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [r["what"] for r in record["rows"]] == ["test suite (two files)", "dataset", "tsne"]
    assert all(r["status"] == "ok" and r["seconds"] > 0 for r in record["rows"])
    assert "passed" in record["rows"][0]["note"] and record["device"].startswith("cpu")
    assert "| dataset | ok |" in (tmp_path / "gpu_check.md").read_text()
    assert (tmp_path / "studies" / "tsne.json").exists()


def test_a_spent_budget_is_reported_not_dropped(tmp_path):
    done = _check(tmp_path, "--no-suite", "--studies", "dataset", "lottery", "--budget", "0")
    assert done.returncode == 0
    rows = json.loads((tmp_path / "gpu_check.json").read_text())["rows"]
    assert [(r["what"], r["status"]) for r in rows] == [("dataset", "not run (budget spent)"),
                                                        ("lottery", "not run (budget spent)")]
