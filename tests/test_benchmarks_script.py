"""scripts/benchmarks.py end to end on a tiny config: JSON first, then the figure and the table from it."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmarks.py"


def load_script():
    spec = importlib.util.spec_from_file_location("benchmarks_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_quick_end_to_end(tmp_path, capsys):
    script = load_script()
    rc = script.main(["--quick", "--models", "logistic", "--improved", "mlp", "--out", str(tmp_path),
                      "--no-progress"])
    assert rc == 0
    results = json.loads((tmp_path / "benchmarks.json").read_text())
    assert set(results["cells"]) == {"logistic/default", "logistic/shuffled"}
    cell = results["cells"]["logistic/default"]
    assert len(cell["step"]) == 3  # T = 20, E = 10: steps 0, 10, 20
    assert len(cell["harness"]["best_test_acc"]) == 2  # two seeds
    for key in ("harness_val", "modern"):
        assert len(cell[key]["selected_test_acc"]) == 2
    assert results["improved"]["mlp"]["config"]["model"] == "mlp"
    assert results["provenance"]["versions"]["jax"]
    assert (tmp_path / "benchmarks.png").stat().st_size > 10_000
    table = (tmp_path / "benchmarks.md").read_text()
    assert "| logistic | shuffled | 32 ± 1 |" in table and "73.3 ± 1.4" in table
    assert "benchmarks.md" in capsys.readouterr().out

    # The figure and the table can be redrawn from the JSON alone.
    (tmp_path / "benchmarks.png").unlink()
    assert script.main(["--redraw", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "benchmarks.png").exists()
