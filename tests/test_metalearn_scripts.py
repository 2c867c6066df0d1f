"""Both metalearning scripts end to end on tiny settings: the JSON and the PNG exist and are consistent."""

import json
import runpy
import sys

import pytest


@pytest.mark.parametrize("name, extra", [("lr", []), ("activation", ["--no-transfer"])])
def test_script_quick(tmp_path, monkeypatch, name, extra):
    out = tmp_path / f"metalearn_{name}"
    monkeypatch.setattr(sys, "argv", [f"metalearn_{name}.py", "--quick", "-o", str(out), *extra])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(f"scripts/metalearn_{name}.py", run_name="__main__")
    assert done.value.code == 0
    assert out.with_suffix(".png").stat().st_size > 10_000
    results = json.loads(out.with_suffix(".json").read_text())
    assert results["config"]["quick"] is True and "provenance" in results


def test_activation_resumes_from_its_checkpoint(tmp_path):
    from mnist1d_jax.studies.metalearn_activation import ActivationStudyConfig, learn

    cfg = ActivationStudyConfig.quick_config(outer_steps=4, chunk=2)
    ck = tmp_path / "ck.npz"
    _, first, _ = learn(cfg, checkpoint_path=ck)
    steps = []
    _, again, _ = learn(cfg, checkpoint_path=ck, progress=steps.append)
    assert steps == [4]  # nothing left to run
    assert (first["value"] == again["value"]).all()
