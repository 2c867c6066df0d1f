"""mnist1d-jax reproduce: studies in their own process groups, resume, report, a failing study."""

import json
import subprocess

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
    assert not reproduce._done(state, "dataset", tmp_path, quick=True, seeds="default")
    assert not reproduce._done(state, "dataset", tmp_path, quick=True, seeds="paper")


def test_a_failing_study_is_reported_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    real = reproduce.run_study

    def run_study(name, out, quick, seeds="default", precision=None, classes=None):
        if name == "tsne":
            raise subprocess.CalledProcessError(1, ["tsne"])
        return real(name, out, quick, seeds, precision, classes)

    monkeypatch.setattr(reproduce, "run_study", run_study)
    with pytest.raises(RuntimeError, match="studies failed: tsne"):
        reproduce.reproduce(tmp_path, only=["dataset", "tsne"], quick=True)
    assert "tsne FAILED" in capsys.readouterr().out
    assert (tmp_path / "dataset.json").exists() and (tmp_path / "REPORT.md").exists()
    state = json.loads((tmp_path / reproduce.STATE).read_text())
    assert state["tsne"]["failed"] and not reproduce._done(state, "tsne", tmp_path, quick=True, seeds="default")
    report = (tmp_path / "REPORT.md").read_text()
    assert "| t-SNE in input space (Fig. 10) | default | **failed** |" in report
    assert "**Failed in the last run** (see its output); no record." in report


def test_paper_seed_mode_commands_and_report_only(tmp_path):
    assert reproduce.study_command("double_descent", tmp_path, False, "paper")[-1] == "--paper-seeds"
    assert reproduce.study_command("double_descent", tmp_path, True, "paper")[-1] == "--quick"  # quick wins
    assert "--paper-seeds" not in reproduce.study_command("lottery", tmp_path, False)
    with pytest.raises(SystemExit) as info:
        main(["reproduce", "--report-only", "--out", str(tmp_path / "typo")])
    assert info.value.code == 2 and not (tmp_path / "typo").exists()
    with pytest.raises(SystemExit) as info:
        main(["reproduce", "--quick", "--seeds", "paper", "--out", str(tmp_path / "q")])
    assert info.value.code == 2 and not (tmp_path / "q").exists()


def test_the_precision_reaches_every_study_and_is_part_of_done(tmp_path):
    command = reproduce.study_command("tsne", tmp_path, True, precision="bf16")
    assert command[command.index("--precision") + 1] == "bf16" and command.index("--precision") < command.index("tsne")
    default = reproduce.study_command("tsne", tmp_path, True)
    assert default[default.index("--precision") + 1] == "float32"  # explicit: a study never falls back on its own
    (tmp_path / "tsne.json").write_text("{}")
    entry = {"quick": True, "seeds": "default", "precision": "float32",
             "record_sha256": reproduce._sha256(tmp_path / "tsne.json")}
    assert reproduce._done({"tsne": entry}, "tsne", tmp_path, quick=True, seeds="default", precision="float32")
    assert not reproduce._done({"tsne": entry}, "tsne", tmp_path, quick=True, seeds="default", precision="bf16")
    del entry["precision"]  # a state from before the policy: its studies ran under float32
    assert reproduce._done({"tsne": entry}, "tsne", tmp_path, quick=True, seeds="default", precision="float32")


def test_the_class_subset_reaches_every_study_and_is_part_of_done(tmp_path):
    command = reproduce.study_command("tsne", tmp_path, True, classes="0-7")
    assert command[command.index("--classes") + 1] == "0-7" and command.index("--classes") < command.index("tsne")
    default = reproduce.study_command("tsne", tmp_path, True)
    assert default[default.index("--classes") + 1] == "0-9"  # explicit: a study never falls back on its own
    (tmp_path / "tsne.json").write_text("{}")
    entry = {"quick": True, "seeds": "default", "precision": "float32", "classes": "0-7",
             "record_sha256": reproduce._sha256(tmp_path / "tsne.json")}
    done = {"quick": True, "seeds": "default", "precision": "float32"}
    assert reproduce._done({"tsne": entry}, "tsne", tmp_path, **done, classes="0-7")
    assert reproduce._done({"tsne": entry}, "tsne", tmp_path, **done, classes=range(8))
    assert not reproduce._done({"tsne": entry}, "tsne", tmp_path, **done, classes="0-6")
    assert not reproduce._done({"tsne": entry}, "tsne", tmp_path, **done)  # all ten
    del entry["classes"]  # a state from before the policy: its studies ran on all ten digits
    assert reproduce._done({"tsne": entry}, "tsne", tmp_path, **done)
    assert not reproduce._done({"tsne": entry}, "tsne", tmp_path, **done, classes="0-7")


def test_a_rebuilt_state_counts_only_records_of_the_same_subset(tmp_path):
    import dataclasses

    from mnist1d_jax.studies import tsne

    config = json.loads(json.dumps(dataclasses.asdict(tsne.QUICK)))
    record = {"config": config, "runtime_s": 1.0, "provenance": {"classes": list(range(8)), "devices": {}}}
    (tmp_path / "tsne.json").write_text(json.dumps(record))
    assert "tsne" in reproduce.rebuild_state(tmp_path, True, "default", classes="0-7")
    assert reproduce.rebuild_state(tmp_path, True, "default", classes="0-7")["tsne"]["classes"] == "0-7"
    assert "tsne" not in reproduce.rebuild_state(tmp_path, True, "default")
    del record["provenance"]["classes"]  # a record from before the policy: all ten
    (tmp_path / "tsne.json").write_text(json.dumps(record))
    assert "tsne" in reproduce.rebuild_state(tmp_path, True, "default")
    assert "tsne" not in reproduce.rebuild_state(tmp_path, True, "default", classes="0-7")


def test_under_a_subset_refusing_studies_are_skipped_with_their_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(reproduce, "run_study", lambda *a, **k: pytest.fail("a refusing study was started"))
    assert main(["--classes", "0-7", "reproduce", "--quick", "--only", "dataset", "classwise_errors",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[1/2] dataset: skipped, it refuses a class subset (--classes 0-7): it checks the generator" in out
    assert "[2/2] classwise_errors: skipped" in out
    report = (tmp_path / "REPORT.md").read_text()
    assert ("**Class subset: trained on digits 0-7, digits 8-9 held out; the paper's numbers are for all "
            "ten.**") in report
    assert "Not run: it refuses a class subset (it checks the generator" in report


def test_the_studies_beyond_the_paper_run_with_the_default_seeds_only(tmp_path, capsys):
    from mnist1d_jax.studies import BEYOND, STUDIES

    assert reproduce.planned("default") == STUDIES + BEYOND and reproduce.planned("paper") == STUDIES
    with pytest.raises(SystemExit):
        main(["reproduce", "--seeds", "paper", "--only", "neural_collapse", "--out", str(tmp_path)])
    assert "beyond the paper" in capsys.readouterr().err
