"""Validated configs: every check names the class, the field, the value and what is allowed."""

import dataclasses
import math

import pytest

from mnist1d_jax.runtime.validation import (
    Config,
    ConfigError,
    boolean,
    choice,
    fail,
    fraction,
    integer,
    option,
    optional,
    positive,
    tuple_of,
)


@dataclasses.dataclass(frozen=True)
class Example(Config):
    n: int = option(3, integer(1, 10))
    lr: float = option(0.1, positive(1.0))
    frac: float = option(0.5, fraction())
    kind: str = option("a", choice("a", "b"))
    flag: bool = option(False, boolean)
    widths: tuple[int, ...] = option((1, 2), tuple_of(integer(1), unique=True, increasing=True))
    extra: int | None = option(None, optional(integer(0)))

    def _check(self):
        if self.n > 5 and self.kind == "b":
            fail(self, "n", self.n, "must be <= 5 with kind 'b'")


@pytest.mark.parametrize("changes, message", [
    ({"n": 0}, "Example.n=0 is invalid: must be an integer in [1, 10]"),
    ({"n": 2.5}, "must be an integer"),
    ({"n": True}, "must be an integer"),
    ({"lr": math.nan}, "Example.lr=nan is invalid: must be a finite number > 0 and <= 1"),
    ({"lr": math.inf}, "must be a finite number"),
    ({"lr": -1.0}, "> 0"),
    ({"frac": 1.0}, "< 1"),
    ({"kind": "c"}, "must be one of 'a', 'b'"),
    ({"flag": 1}, "must be True or False"),
    ({"widths": (2, 1)}, "increasing order"),
    ({"widths": (1, 1)}, "must not repeat"),
    ({"widths": ()}, "must have >= 1 entries"),
    ({"widths": (0, 1)}, "every entry must be an integer >= 1"),
    ({"widths": "12"}, "must be a sequence"),
    ({"extra": -1}, "Example.extra=-1"),
    ({"n": 6, "kind": "b"}, "must be <= 5 with kind 'b'"),
])
def test_bad_values_are_named(changes, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        Example(**changes)


def test_good_values_are_normalised():
    e = Example(widths=[1, 5], n=4, extra=2)
    assert e.widths == (1, 5) and isinstance(e.widths, tuple) and e.replace(n=5).n == 5
    assert e.to_dict()["widths"] == (1, 5)
    with pytest.raises(ConfigError):
        e.replace(n=99)
