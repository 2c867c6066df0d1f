"""The mnist1d-jax command end to end: data, figure, a study and its redraw, one-line errors with exit codes."""

import json
import subprocess
import sys

import numpy as np
import pytest

from mnist1d_jax import DatasetConfig, make_dataset
from mnist1d_jax.cli import main
from mnist1d_jax.data.io import load_dataset


def test_data_writes_the_requested_config(tmp_path, capsys):
    out = tmp_path / "d.npz"
    assert main(["data", "--num-samples", "300", "--shuffle-seq", "--padding", "30", "50", "-o", str(out)]) == 0
    assert "240 train + 60 test" in capsys.readouterr().out
    dataset = load_dataset(out)
    expected = DatasetConfig(num_samples=300, shuffle_seq=True, padding=(30, 50))
    assert dataset.config == expected
    np.testing.assert_array_equal(dataset.x, make_dataset(expected).x)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--num-samples", "1234"], "multiple of 10"),
        (["--padding", "60", "36"], "low <= high"),
        (["--train-split", "1.5"], "open interval"),
        (["--final-seq-length", "1"], ">= 2"),
    ],
)
def test_data_rejects_invalid_options(tmp_path, capsys, args, fragment):
    with pytest.raises(SystemExit) as info:
        main(["data", *args, "-o", str(tmp_path / "d.npz")])
    assert info.value.code == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "d.npz").exists()


def test_figure_from_a_file_writes_png_and_json(tmp_path):
    data = tmp_path / "d.npz"
    main(["data", "--num-samples", "200", "-o", str(data)])
    png = tmp_path / "figs" / "dataset.png"
    assert main(["figure", "--data", str(data), "-o", str(png)]) == 0
    assert png.stat().st_size > 10_000
    record = json.loads(png.with_suffix(".json").read_text())
    assert record["config"]["num_samples"] == 200 and record["provenance"]["versions"]["numpy"]


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "mnist1d_jax.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "data" in out.stdout and "figure" in out.stdout


def test_a_study_runs_redraws_and_resumes(tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["tsne", "--quick", "--out", str(out), "--no-progress"]) == 0
    assert "wrote" in capsys.readouterr().out and (out / "tsne.png").exists()
    (out / "tsne.png").unlink()
    assert main(["tsne", "--redraw", "--out", str(out)]) == 0 and (out / "tsne.png").exists()


@pytest.mark.parametrize("argv, code, fragment", [
    (["tsne", "--quick", "--perplexity", "-1"], 2, "TSNEConfig.perplexity=-1.0 is invalid"),
    (["pooling", "--sizes", "1000", "500"], 2, "must be in increasing order"),
    (["lottery", "--rounds", "5", "10"], 2, "must include the reference round 91"),
    (["tsne", "--redraw", "--out", "/nonexistent/folder"], 2, "holds no tsne.json"),
    (["tsne", "--quick", "--out", "/proc/version"], 2, "is not a folder"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_runs(capsys, argv, code, fragment):
    try:
        rc = main(argv)
    except SystemExit as exit_:
        rc = exit_.code
    err = capsys.readouterr().err
    assert rc == code and fragment in err and "Traceback" not in err and err.strip().count("\n") == 0


def test_data_refuses_huge_datasets_and_bad_files_in_one_line(tmp_path, capsys):
    for argv, fragment in ((["--num-samples", "1000000000000"], "needs about"),
                           (["--template-len", "1000000"], "needs about"),
                           (["-o", str(tmp_path)], "is a folder, not a file")):
        code = main(["data", *argv] + ([] if "-o" in argv else ["-o", str(tmp_path / "d.npz")]))
        err = capsys.readouterr().err
        assert code == 2 and fragment in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["--precision", "x", "tsne", "--quick"], ["tsne", "--quick", "--precision", "x"],
                                  ["train", "--precision", "fp16"]])
def test_a_bad_precision_is_one_line_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "argument --precision: invalid choice" in err and "'float32', 'tf32', 'bf16'" in err
    assert err.strip().count("\n") == 0


def test_a_bad_precision_environment_variable_is_one_line_exit_2(capsys, monkeypatch):
    import jax

    from mnist1d_jax.runtime import precision

    monkeypatch.setenv(precision.ENV_VAR, "half")
    before = jax.config.jax_default_matmul_precision
    jax.config.update("jax_default_matmul_precision", None)  # unset (earlier mains in this process set it)
    try:
        with pytest.raises(SystemExit) as info:
            main(["tsne", "--quick", "--out", "/nonexistent/never"])
    finally:
        jax.config.update("jax_default_matmul_precision", before)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "$MNIST1D_JAX_PRECISION='half' is not a matmul precision" in err
    assert err.strip().count("\n") == 0


def test_every_command_takes_the_precision_before_or_after_its_name():
    from mnist1d_jax.cli.app import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name in commands:
        assert parser.parse_args([name, "--precision", "bf16"]).precision == "bf16", name
    assert parser.parse_args(["--precision", "tf32", "train"]).precision == "tf32"
    assert parser.parse_args(["--precision", "tf32", "train", "--precision", "bf16"]).precision == "bf16"
    assert parser.parse_args(["train"]).precision is None  # main resolves it: $MNIST1D_JAX_PRECISION, else float32


def test_every_commands_help_prints(capsys):
    """``--help`` of every subcommand formats (argparse %-formats help strings: a bare "%" once crashed it)."""
    from mnist1d_jax.cli.app import build_parser

    parser = build_parser()
    for name in parser._subparsers._group_actions[0].choices:
        with pytest.raises(SystemExit) as stop:
            parser.parse_args([name, "--help"])
        assert stop.value.code == 0, name
        assert "--" in capsys.readouterr().out, name


# --------------------------------------------------------------------------------------------------------------
# The global --classes option (data.classes)
# --------------------------------------------------------------------------------------------------------------
def test_every_command_takes_the_classes_before_or_after_its_name():
    from mnist1d_jax.cli.app import build_parser

    parser = build_parser()
    for name, command in parser._subparsers._group_actions[0].choices.items():
        assert "--classes" in command._option_string_actions, name
        if not any(action.required for action in command._actions):  # parses without further arguments
            assert parser.parse_args([name, "--classes", "0-7"]).classes == tuple(range(8)), name
    assert parser.parse_args(["--classes", "0,2,4", "train"]).classes == (0, 2, 4)
    assert parser.parse_args(["--classes", "0-3", "train", "--classes", "0-3,8"]).classes == (0, 1, 2, 3, 8)
    assert parser.parse_args(["train"]).classes is None  # main resolves it: $MNIST1D_JAX_CLASSES, else all ten


@pytest.mark.parametrize("argv, fragment", [
    (["--classes", "0-10", "train"], "argument --classes: '0-10': digit 10 is out of range"),
    (["train", "--classes", ""], "argument --classes: '' names no digit"),
    (["tsne", "--quick", "--classes", "3,3"], "argument --classes: '3,3': digit 3 is given twice"),
    (["--classes", "0-7", "data", "-o", "d.npz"], "`data` always covers all ten"),
])
def test_bad_classes_are_one_line_exit_2(capsys, argv, fragment):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and fragment in err and err.strip().count("\n") == 0


def test_a_bad_classes_environment_variable_is_one_line_exit_2(capsys, monkeypatch):
    from mnist1d_jax.data import classes

    monkeypatch.setenv(classes.ENV_VAR, "0-99")
    with pytest.raises(SystemExit) as info:
        main(["train", "--seeds", "1"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "$MNIST1D_JAX_CLASSES='0-99': digit 99 is out of range" in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_refusing_study_says_why_in_one_line_and_writes_nothing(tmp_path, capsys, where):
    from mnist1d_jax.data.classes import resolve_classes

    out = tmp_path / "figs"
    argv = ["dataset", "--quick", "--out", str(out)]
    argv = ["--classes", "0-7", *argv] if where == "before" else [*argv, "--classes", "0-7"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mnist1d-jax dataset: error: dataset cannot run on a class subset (--classes 0-7): it "
                          "checks the generator") and err.count("\n") == 1
    assert not out.exists()
    assert len(resolve_classes()) == 10  # the option set nothing process-wide


def test_an_output_file_that_is_a_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """A study whose JSON or figure path is a folder: one line of ours, exit 2, nothing computed or written."""
    from mnist1d_jax.studies import metalearn_lr

    ran = []
    monkeypatch.setattr(metalearn_lr, "run", lambda *a, **k: ran.append(1))
    for blocked in ("metalearn_lr.json", "metalearn_lr_estimators.png"):
        out = tmp_path / blocked.split(".")[0]
        (out / blocked).mkdir(parents=True)
        assert main(["metalearn-lr", "--quick", "--no-memory", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{out / blocked} is a folder, not a file" in err
        assert ".tmp" not in err and not ran
        assert sorted(p.name for p in out.iterdir()) == [blocked]


def test_figure_refuses_a_json_path_that_is_a_folder_before_drawing(tmp_path, capsys):
    png = tmp_path / "f.png"
    (tmp_path / "f.json").mkdir()
    assert main(["figure", "-o", str(png)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "f.json is a folder, not a file" in err
    assert not png.exists()  # no figure without its JSON


def test_atomic_write_to_a_folder_is_our_one_line_error(tmp_path):
    from mnist1d_jax.runtime.results import OutputError, write_json

    (tmp_path / "r.json").mkdir()
    with pytest.raises(OutputError, match=r"r\.json is a folder, not a file"):
        write_json(tmp_path / "r.json", {"a": 1})
    assert not list(tmp_path.glob(".*.tmp"))


def test_top_level_help_groups_every_command_in_plain_text(capsys):
    from mnist1d_jax.cli.common import command_name
    from mnist1d_jax.studies import ALL

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and "{data,generate" not in text  # no reST markup, no unbroken list of choices
    assert all(len(line) <= 110 for line in text.splitlines())
    heads = ["data:", "the paper's studies:", "beyond the paper:", "tools:"]
    at = [text.index(f"\n{h}\n") for h in heads]
    assert at == sorted(at)
    listed = {line.split()[0] for line in text[at[0]:].splitlines() if line.startswith("  ")}
    assert {"data", "generate", "figure", "train", "reproduce", *map(command_name, ALL)} <= listed
    assert text.index("  dataset ") > at[1] and text.index("  data ") < at[1]  # `data` apart from `dataset`
