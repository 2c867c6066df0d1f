"""mnist1d-jax reproduce: runs studies in their own processes, resumes, reports, survives a failing study."""

import json

import pytest

from mnist1d_jax import reproduce
from mnist1d_jax.cli import main


def test_quick_dataset_study_then_resume(tmp_path, capsys):
    assert main(["reproduce", "--quick", "--only", "dataset", "--out", str(tmp_path)]) == 0
    state = json.loads((tmp_path / "reproduce_state.json").read_text())
    assert state["dataset"]["quick"] is True
    report = (tmp_path / "REPORT.md").read_text()
    assert "Quick mode" in report and "![dataset](dataset.png)" in report and "| quantity | paper | ours |" in report
    capsys.readouterr()
    main(["reproduce", "--quick", "--only", "dataset", "--out", str(tmp_path)])
    assert "done earlier" in capsys.readouterr().out
    # A changed results file is not trusted: the study runs again.
    (tmp_path / "dataset.json").write_text("{}")
    assert not reproduce._done(state, reproduce.STUDIES[0], tmp_path, quick=True)


def test_a_failing_study_is_reported_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    broken = reproduce.Study("broken", "A broken study", "json.tool", "broken.json")
    monkeypatch.setattr(reproduce, "STUDIES", (broken, reproduce.STUDIES[0]))
    with pytest.raises(RuntimeError, match="studies failed: broken"):
        reproduce.reproduce(tmp_path, quick=True)
    assert "broken FAILED" in capsys.readouterr().out
    assert (tmp_path / "dataset.json").exists() and (tmp_path / "REPORT.md").exists()


def test_report_only_summarises_results_already_there_and_names_what_it_cannot(tmp_path, capsys):
    """``--report-only`` runs nothing: studies run separately are reported as such, and a record that cannot be
    summarised gets an explicit line instead of crashing the report."""
    assert main(["reproduce", "--quick", "--only", "dataset", "--out", str(tmp_path)]) == 0
    (tmp_path / reproduce.STATE).unlink()  # as if the study had been run by its own script
    (tmp_path / "tsne.json").write_text("{}")  # a record from another version
    assert main(["reproduce", "--report-only", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "REPORT.md").read_text()
    assert "| The dataset (Fig. 1) and its exactness | ran separately |" in report
    assert "tsne.json could not be summarised (KeyError" in report
    assert "| Pooling vs training-set size (Fig. 7) | not run |" in report
