"""Both scripts end to end (``--quick --smoke``: tiny widths and steps) into temporary folders, then redraw."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _run(script, *args):
    return subprocess.run([sys.executable, SCRIPTS / script, *map(str, args)], check=True, capture_output=True,
                          text=True)


def test_lottery_script(tmp_path):
    _run("lottery.py", "--quick", "--smoke", "--out", tmp_path)
    record = json.loads((tmp_path / "lottery.json").read_text())
    assert record["rounds"] == [0, 50, 91]
    assert set(record["ablations"]["conditions"]) == {"baseline", "flipped", "shuffled", "reinit"}
    dens = record["reference_density"]["lottery_trial0"]
    assert abs(dens["Dense_1"] - (1 - 91 / 99)) < 0.01
    assert record["adjacency"]["lottery"]["p2"]["mean"] >= 0
    for name in ("lottery.png", "lottery_masks.png"):
        assert (tmp_path / name).stat().st_size > 10_000
        (tmp_path / name).unlink()
    _run("lottery.py", "--redraw", "--out", tmp_path)
    assert (tmp_path / "lottery.png").exists() and (tmp_path / "lottery_masks.png").exists()


def test_double_descent_script(tmp_path):
    _run("double_descent.py", "--quick", "--smoke", "--out", tmp_path)
    record = json.loads((tmp_path / "double_descent.json").read_text())
    assert record["label_noise"] == {"selected": 639, "changed": 577, "n": 4000}  # the original's selection
    assert (record["n_train"], record["n_test"]) == (4000, 12000)
    assert set(record["panels"]) == {"mlp_clean", "mlp_noisy", "cnn_noisy", "mlp_noisy_mse"}
    assert isinstance(record["panels"]["cnn_noisy"]["test_error"][0][0], float)
    (tmp_path / "double_descent.png").unlink()
    _run("double_descent.py", "--redraw", "--out", tmp_path)
    assert (tmp_path / "double_descent.png").stat().st_size > 10_000
    # --assemble trains nothing: it gathers the finished width buckets (here all of them) into the record
    (tmp_path / "double_descent.json").unlink()
    _run("double_descent.py", "--assemble", "--smoke", "--out", tmp_path)
    again = json.loads((tmp_path / "double_descent.json").read_text())
    assert again["panels"]["cnn_noisy"]["test_error"] == record["panels"]["cnn_noisy"]["test_error"]
    assert "missing_widths" not in again
