"""The validation-only search: rows per candidate, best first, never a test accuracy."""

import json


def test_tiny_search(run_quick):
    record, saved = run_quick("baseline_search")
    rows = saved["rows"]["mlp"]
    assert [r["candidate"] for r in rows] == ["mlp256-prelu-shift3"]
    assert 0 <= rows[0]["val_acc_mean"] <= 100
    assert "test" not in json.dumps(saved["rows"])
