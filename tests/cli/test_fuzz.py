"""Bad input to every subcommand: exit status 2, one line on stderr, no traceback, no new file.

Hypothesis draws a subcommand, one of its options and a value from a pool of bad ones (NaN, inf, huge, negative,
zero, fractional, wrong types, empty); a value the option's config accepts is skipped, so every example is one
the command must refuse, before any work."""

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mnist1d_jax.cli import main
from mnist1d_jax.cli.builder import NONE, _kind, _number
from mnist1d_jax.cli.train import TrainCommand
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.report.runner import study_module
from mnist1d_jax.studies import EXTRA, STUDIES
from mnist1d_jax.validation import ConfigError

BAD = ("nan", "inf", "-inf", "1e308", "-1", "0", "-0.5", "2.5", "1e12", "99999999999999999999", "abc", "", "none",
       "1,2", "0x10", " ", "True")
COMMANDS = {name.replace("_", "-"): study_module(name).Config for name in STUDIES + EXTRA}
COMMANDS["train"] = TrainCommand
COMMANDS["data"] = DatasetConfig


def _accepts(cls, field, text) -> bool:
    """Whether ``--field text`` would pass: the argument parses as the field's type and the config accepts it."""
    f = next(f for f in dataclasses.fields(cls) if f.name == field)
    if cls is DatasetConfig:  # `data` keeps argparse's own types
        kind = type(f.default)
        if kind is bool or field == "padding":
            return False  # a flag takes no value; padding takes two
        try:
            value = kind(text)
        except ValueError:
            return False
    else:
        kind, is_tuple, _ = _kind(str(f.type))
        if kind is bool:
            return False  # --flag VALUE: VALUE is an unrecognised argument
        try:
            value = _number(kind, "None" in str(f.type))(text)
        except Exception:  # noqa: BLE001
            return False
        value = None if value is NONE else (value,) if is_tuple else value
    try:
        dataclasses.replace(cls(), **{field: value})
    except (ConfigError, ValueError, TypeError):
        return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bad_values_are_refused_in_one_line(data, tmp_path, capsys):
    command = data.draw(st.sampled_from(sorted(COMMANDS)))
    cls = COMMANDS[command]
    field = data.draw(st.sampled_from([f.name for f in dataclasses.fields(cls)]))
    text = data.draw(st.sampled_from(BAD))
    assume(not _accepts(cls, field, text))
    out = tmp_path / "never"
    where = ["-o", str(out / "d.npz")] if command == "data" else ([] if command == "train" else ["--out", str(out)])
    try:
        code = main([command, "--" + field.replace("_", "-"), text, *where])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, (command, field, text, err)
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", sorted(name.replace("_", "-") for name in STUDIES + EXTRA))
def test_bad_output_folders_are_refused_before_any_work(command, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "sub", "", "/proc/nope"):
        try:
            code = main([command, "--quick", "--out", str(out)])
        except SystemExit as exit_:
            code = exit_.code
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (out, err)
    assert sorted(os.listdir(tmp_path)) == ["file"]
