"""``mnist1d-jax train``: a table of test accuracies over seeds; bad settings refused before any work."""

import pytest

from mnist1d_jax.cli import main
from mnist1d_jax.cli.train import TrainCommand
from mnist1d_jax.runtime.validation import ConfigError


def test_train_prints_the_table(capsys):
    assert main(["train", "--model", "logistic", "--seeds", "2", "--steps", "20", "--eval-every", "10",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| best over evaluations |" in out and "logistic, harness protocol, 2 seeds" in out


@pytest.mark.parametrize("changes, fragment", [
    ({"steps": 10, "eval_every": 1000}, "must divide steps=10"),
    ({"seeds": 0}, "TrainCommand.seeds=0"),
    ({"lr": float("nan")}, "TrainCommand.lr=nan"),
    ({"val_fraction": -0.1}, "TrainCommand.val_fraction=-0.1"),
    ({"protocol": "modern", "val_fraction": 0.0}, "selects on validation"),
    ({"batch_size": 3900, "protocol": "modern"}, "must be <= the 3600 training examples"),
])
def test_bad_settings(changes, fragment):
    with pytest.raises(ConfigError, match=fragment):
        TrainCommand(**changes)


def test_the_global_precision_reaches_the_train_config(capsys):
    import jax

    from mnist1d_jax.runtime import precision

    before = jax.config.jax_default_matmul_precision  # main's set_precision is undone after the test
    try:
        assert main(["--precision", "bf16", "train", "--model", "logistic", "--seeds", "1", "--steps", "4",
                     "--eval-every", "2", "--no-progress"]) == 0
        assert precision.current() == "bf16"
    finally:
        jax.config.update("jax_default_matmul_precision", before)
    assert "logistic, harness protocol, 1 seeds, T = 4, bf16 matmuls" in capsys.readouterr().out


def test_a_class_subset_reports_kept_accuracy_and_an_ood_score(capsys):
    from mnist1d_jax.data.classes import resolve_classes

    assert main(["--classes", "0-7", "train", "--model", "logistic", "--seeds", "2", "--steps", "4",
                 "--eval-every", "2", "--val-fraction", "0.1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "logistic, harness protocol, 2 seeds, T = 4, float32 matmuls, digits 0-7 (8-9 held out)" in out
    assert "| test accuracy on the 800 test examples of digits 0-7 (%) |" in out
    assert "the 800 test examples of digits 0-7 against the 200 of held-out 8-9" in out
    table = out[out.index("| OOD AUROC |"):].splitlines()
    rows = {line.split("|")[1].strip(): line for line in table[2:] if line.startswith("|")}
    assert set(rows) == {"final", "validation-selected"}
    for line in rows.values():
        mean = float(line.split("|")[2].split("±")[0])
        assert 0.0 <= mean <= 1.0
    assert len(resolve_classes()) == 10  # --classes set nothing process-wide
