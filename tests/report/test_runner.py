"""The study runner: output folders checked before work, records with their arrays, figures and JSON together."""

import dataclasses
import json
import os
import types

import numpy as np
import pytest

from mnist1d_jax.report import runner


def fake_study(draw):
    module = types.ModuleType("fake")
    module.NAME = "fake"

    @dataclasses.dataclass(frozen=True)
    class Config:
        size: int = 1

    module.Config = Config
    module.run = lambda config, ctx: {"value": 1.5, "arrays": {"a": np.arange(3)}}
    module.draw = draw
    return module


def test_record_arrays_figures_then_json(tmp_path):
    def draw(record, out):
        assert record["arrays"]["a"].tolist() == [0, 1, 2] and record["study"] == "fake"
        (out / "fake.png").write_bytes(b"png")
        return [out / "fake.png"]

    module = fake_study(draw)
    record = runner.run_study(module, module.Config(), tmp_path / "out")
    assert record["value"] == 1.5 and record["provenance"]["versions"]["numpy"]
    saved = runner.load_record(module, tmp_path / "out")
    assert saved["arrays"]["a"].tolist() == [0, 1, 2] and "arrays" not in json.loads(
        (tmp_path / "out" / "fake.json").read_text())
    assert (tmp_path / "out" / "fake.png").exists()


def test_a_failed_drawing_leaves_neither_figure_nor_json(tmp_path):
    def draw(record, out):
        (out / "fake.png").write_bytes(b"half")
        raise RuntimeError("drawing failed")

    with pytest.raises(RuntimeError, match="drawing failed"):
        runner.run_study(fake_study(draw), None, tmp_path)
    assert not (tmp_path / "fake.json").exists()


def test_output_folders_are_checked_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(runner.OutputError, match="exists and is not a folder"):
        runner.check_output_folder(tmp_path / "file")
    with pytest.raises(runner.OutputError, match="is not a folder"):
        runner.check_output_folder(tmp_path / "file" / "sub")
    with pytest.raises(runner.OutputError, match="empty path"):
        runner.check_output_folder("")
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(runner.OutputError, match="not writable"):
            runner.check_output_folder(ro / "out")
    assert runner.check_output_folder(tmp_path / "a" / "b").is_dir()


def test_unknown_studies_are_named():
    with pytest.raises(ValueError, match="unknown study 'lotery'"):
        runner.study_module("lotery")


def test_a_class_subset_is_recorded_and_its_partial_results_kept_apart(tmp_path, monkeypatch):
    seen = []

    def run(config, ctx):
        seen.append((ctx.classes, ctx.store))
        return {"value": 1.0}

    module = fake_study(lambda record, out: [])
    module.run = run
    assert runner.state_folder(tmp_path, module).name == ".fake_state"
    assert runner.state_folder(tmp_path, module, classes="0-7").name == ".fake_state_classes_0-7"
    assert runner.state_folder(tmp_path, module, "bf16", (0, 2, 4)).name == ".fake_state_bf16_classes_0,2,4"
    assert runner.state_folder(tmp_path, module, classes="all").name == ".fake_state"  # all ten: as before
    monkeypatch.setenv("MNIST1D_JAX_CLASSES", "0-3")  # the environment is the command line's, not the library's
    record = runner.run_study(module, None, tmp_path, classes="0-7")
    assert seen[0][0] == tuple(range(8))  # the study got the subset it was given
    assert seen[0][1].folder.name == ".fake_state_classes_0-7"
    assert record["provenance"]["classes"] == list(range(8)) and record["provenance"]["held_out_classes"] == [8, 9]
    assert json.loads((tmp_path / "fake.json").read_text())["provenance"]["held_out_classes"] == [8, 9]
    record = runner.run_study(module, None, tmp_path)
    assert seen[1][0] == tuple(range(10))  # nothing given: all ten, whatever the environment says
    assert record["provenance"]["classes"] == list(range(10)) and record["provenance"]["held_out_classes"] == []


def test_a_study_that_refuses_a_subset_is_stopped_before_any_work(tmp_path):
    from mnist1d_jax.data.classes import ClassSubsetError

    module = fake_study(lambda record, out: [])
    module.REFUSES_CLASS_SUBSET = "a fixed per-class protocol"
    module.run = lambda config, ctx: pytest.fail("ran")
    with pytest.raises(ClassSubsetError, match=r"^fake cannot run on a class subset "
                       r"\(--classes 0-7\): a fixed per-class protocol$"):
        runner.run_study(module, None, tmp_path / "out", classes="0-7")
    assert not (tmp_path / "out").exists()
    runner.check_classes(module)  # all ten: fine


def test_a_resumed_study_reports_the_time_of_every_process(tmp_path):
    """The first process stores a partial result after 0.3 s of work and is interrupted; the second resumes it in
    no time. The record's runtime counts both processes; the second's own time is recorded apart."""
    import time

    def run(config, ctx):
        if ctx.store.get("part", 1) is None:
            time.sleep(0.3)
            ctx.store.put("part", 1, np.arange(2))
            raise RuntimeError("the machine went down")
        return {"value": float(ctx.store.get("part", 1).sum())}

    module = fake_study(lambda record, out: [])
    module.run = run
    with pytest.raises(RuntimeError, match="went down"):
        runner.run_study(module, None, tmp_path)
    record = runner.run_study(module, None, tmp_path)
    assert record["value"] == 1.0 and record["runtime_s"] >= 0.3 > record["runtime_this_process_s"]
    assert record["cpu_s"] >= 0.0
