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
from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import ALL

BAD = ("nan", "inf", "-inf", "1e308", "-1", "0", "-0.5", "2.5", "1e12", "99999999999999999999", "abc", "", "none",
       "1,2", "0x10", " ", "True")
COMMANDS = {name.replace("_", "-"): study_module(name).Config for name in ALL}
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


@pytest.mark.parametrize("command", sorted(name.replace("_", "-") for name in ALL))
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


def tally(out_md: str | None = None) -> str:
    """Every (subcommand, option, bad value) the fuzz test can draw, tried once each, in this process: a table
    per subcommand of how many were refused with exit 2 and one line, tracebacks, other exits, new files.
    ``python tests/cli/test_fuzz.py [OUT.md]`` (about two minutes)."""
    import contextlib
    import io
    import tempfile
    from pathlib import Path

    rows = []
    for command in sorted(COMMANDS):
        cls = COMMANDS[command]
        counts = {"tried": 0, "exit 2, one line": 0, "tracebacks": 0, "other exits": 0, "files left": 0}
        skipped = 0
        for field in [f.name for f in dataclasses.fields(cls)]:
            for text in BAD:
                if _accepts(cls, field, text):
                    skipped += 1
                    continue
                counts["tried"] += 1
                with tempfile.TemporaryDirectory() as tmp:
                    out = Path(tmp) / "never"
                    where = (["-o", str(out / "d.npz")] if command == "data" else
                             [] if command == "train" else ["--out", str(out)])
                    err = io.StringIO()
                    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                        try:
                            code = main([command, "--" + field.replace("_", "-"), text, *where])
                        except SystemExit as exit_:
                            code = exit_.code
                    msg = err.getvalue()
                    one_line = msg.count("\n") == 1 and "error:" in msg
                    counts["exit 2, one line"] += code == 2 and one_line
                    counts["tracebacks"] += "Traceback" in msg
                    counts["other exits"] += code != 2
                    counts["files left"] += out.exists() or any(Path(tmp).iterdir())
        rows.append((command, counts, skipped))
    head = ("| subcommand | bad inputs tried | exit 2, one line | tracebacks | other exits | files left | "
            "values the option accepts (skipped) |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for command, c, skipped in rows:
        lines.append(f"| {command} | {c['tried']} | {c['exit 2, one line']} | {c['tracebacks']} | "
                     f"{c['other exits']} | {c['files left']} | {skipped} |")
    total = {k: sum(c[k] for _, c, _ in rows) for k in rows[0][1]}
    lines.append(f"| **all** | {total['tried']} | {total['exit 2, one line']} | {total['tracebacks']} | "
                 f"{total['other exits']} | {total['files left']} | {sum(s for *_, s in rows)} |")
    text = "\n".join(lines) + "\n"
    if out_md:
        Path(out_md).write_text(text)
    return text


if __name__ == "__main__":
    import sys

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    print(tally(sys.argv[1] if len(sys.argv) > 1 else None))
