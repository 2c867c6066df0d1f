"""One command line from a config dataclass: every field an option, bad values as one-line errors."""

import argparse
import dataclasses

import pytest

from mnist1d_jax.cli.builder import add_config_options, config_from_args
from mnist1d_jax.cli.common import OneLineParser
from mnist1d_jax.runtime.validation import Config, boolean, integer, option, optional, positive, tuple_of


@dataclasses.dataclass(frozen=True)
class Knobs(Config):
    steps: int = option(10, integer(1), "how many steps")
    lr: float = option(0.1, positive(), "learning rate")
    flag: bool = option(True, boolean)
    widths: tuple[int, ...] = option((1, 2), tuple_of(integer(1)))
    extra: int | None = option(None, optional(integer(0)))


def parse(argv):
    parser = OneLineParser(prog="t")
    add_config_options(parser, Knobs)
    return config_from_args(parser.parse_args(argv), Knobs, None, parser)


def test_options_of_every_kind():
    k = parse(["--steps", "5", "--lr", "1e-3", "--no-flag", "--widths", "3", "4", "--extra", "2"])
    assert k == Knobs(steps=5, lr=1e-3, flag=False, widths=(3, 4), extra=2)
    assert parse([]) == Knobs()
    assert parse(["--extra", "none"]).extra is None


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "Knobs.steps=0 is invalid: must be an integer >= 1"),
    (["--steps", "1e3"], "not an integer: '1e3'"),
    (["--lr", "nan"], "Knobs.lr=nan is invalid"),
    (["--lr", "fast"], "not a number: 'fast'"),
    (["--widths"], "expected at least one argument"),
])
def test_bad_values_are_one_line_and_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        parse(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and err.count("\n") == 1 and err.startswith("t: error:")


def test_help_shows_the_defaults(capsys):
    parser = argparse.ArgumentParser()
    add_config_options(parser, Knobs)
    text = " ".join(parser.format_help().split())
    assert "how many steps (default: 10)" in text and "--no-flag" in text and "default: 1 2" in text
