"""scripts/speed.py end to end in its quick mode (a smoke test of the script; it measures nothing useful)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_speed_script_quick_writes_every_section(tmp_path):
    out = tmp_path / "speed.json"
    env = {**os.environ, "MNIST1D_JAX_CACHE": str(tmp_path / "cache")}
    sections = ["--only", "data", "--only", "train", "--only", "meta", "--only", "pooling", "--only", "floors"]
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "speed.py"), "--quick", *sections, "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sections = json.loads(out.read_text())["sections"]
    assert set(sections) == {"data", "train", "meta", "pooling", "floors"}
    for rows in sections.values():
        assert rows and all(isinstance(r["ours_s"], float | int) and r["ours_s"] > 0 for r in rows)
    meta_rows = {r["what"]: r for r in sections["meta"]}
    assert any("learning rate" in what for what in meta_rows)
    assert any("tabulated" in what for what in meta_rows) and any("exact" in what for what in meta_rows)
    assert "### meta" in proc.stdout
    assert len(sections["pooling"]) == 3 and "10 runs (2 sizes x 5 variants" in sections["pooling"][0]["what"]
    floors = {r["what"]: r for r in sections["floors"]}
    assert any("search round" in what for what in floors) and any("8 % density" in what for what in floors)


def test_the_stream_section_times_a_small_write_and_cleans_up(tmp_path):
    out = tmp_path / "speed.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "speed.py"), "--quick", "--only", "stream",
                           "--stream-samples", "20000", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["sections"]["stream"]
    total = rows[0]
    assert total["samples"] == 20_000 and total["examples_per_s"] > 0 and total["ours_s"] > 0
    assert 20_000 * 40 * 2 < total["gb_written"] * 1e9 < 20_000 * 40 * 2 + 400_000  # float16 inputs, int64 labels
    assert total["peak_rss_gb"] > 0 and "examples/s" in total["note"]
    assert len(rows) == 3 and all(r["ours_s"] > 0 for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speed.json"]  # its files are deleted
