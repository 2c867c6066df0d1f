"""mnist1d-jax reproduce: runs studies in their own processes, resumes, reports, survives a failing study."""

import json

import pytest

from mnist1d_jax.cli import main, reproduce


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
    assert "| The dataset (Fig. 1) and its exactness |  | ran separately |" in report
    assert "tsne.json could not be summarised (KeyError" in report
    assert "| Pooling vs training-set size (Fig. 7) |  | not run |" in report


def test_paper_seed_mode_passes_the_papers_run_counts_and_is_a_separate_resume_state(tmp_path):
    """``--seeds paper`` gives each study the paper's own run count; a study finished in one seed mode is not
    taken as done in the other, and ``{out}`` places per-run files (checkpoints) inside the output folder."""
    by_name = {s.name: s for s in reproduce.STUDIES}
    dd = by_name["double_descent"]
    assert dd.command(tmp_path, quick=False, seeds="paper")[-2:] == ["--seeds", "0"]
    assert "--seeds" not in dd.command(tmp_path, quick=False)
    assert dd.command(tmp_path, quick=True, seeds="paper")[-2:] == ["--quick", "--smoke"]  # quick wins
    act = by_name["metalearn_activation"].command(tmp_path, quick=False, seeds="paper")
    assert str(tmp_path / "metalearn_activation_state.npz") in act and not any("{out}" in a for a in act)
    assert by_name["benchmarks"].command(tmp_path, quick=False).count("--resume") == 1

    assert main(["reproduce", "--quick", "--only", "dataset", "--out", str(tmp_path)]) == 0
    state = json.loads((tmp_path / reproduce.STATE).read_text())
    assert state["dataset"]["seeds"] == "default"
    assert reproduce._done(state, by_name["dataset"], tmp_path, quick=True, seeds="default")
    assert not reproduce._done(state, by_name["dataset"], tmp_path, quick=True, seeds="paper")
    report = (tmp_path / "REPORT.md").read_text()
    assert "| The dataset (Fig. 1) and its exactness | default |" in report and "| **all studies** |" in report
    with pytest.raises(ValueError, match="seeds must be one of"):
        reproduce.reproduce(tmp_path, quick=True, seeds="many")


def test_a_number_outside_the_papers_band_gets_its_explanation_in_the_report(tmp_path, monkeypatch):
    from mnist1d_jax.studies import benchmarks

    def cell(best):
        return {"harness": {"best_test_acc": best, "final_test_acc": best}}

    record = {"config": {"seeds": 2}, "cells": {"mlp/default": cell([65.0, 65.4]), "cnn/default": cell([94.0, 93.0]),
                                                "logistic/default": cell([28.0, 28.2])}}
    rows = {r["quantity"].split(",")[0]: r for r in benchmarks.report_rows(record)}
    assert "inside the acceptance band 64–69" in rows["mlp"]["why"]
    assert "why" not in rows["cnn"]  # 93.5 is within the paper's 94 ± 2
    assert "outside the acceptance band 31–33" in rows["logistic"]["why"]

    (tmp_path / "dataset.json").write_text("{}")
    monkeypatch.setattr(reproduce, "_study_rows", lambda study, out: [
        {"quantity": "q1", "paper": "1", "ours": "1"}, {"quantity": "q2", "paper": "1", "ours": "3", "why": "because"}])
    report = reproduce.write_report(tmp_path, {}, quick=False).read_text()
    assert "Where ours differs from the paper's:\n\n- *q2*: because." in report and "*q1*" not in report


def test_report_numbers_of_a_single_seed_carry_no_spread():
    from mnist1d_jax.report.results import mean_std, seeds_text

    assert mean_std([65.44]) == "65.4" and mean_std([1.0, 3.0]) == "2.0 ± 1.0" and mean_std([]) == "–"
    assert seeds_text(1) == "1 seed" and seeds_text(5) == "5 seeds"
