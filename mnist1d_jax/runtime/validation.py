"""Validated configuration dataclasses: every field checked on construction, with one-line errors.

A config is a frozen dataclass deriving from `Config`; each field may carry a check (and a help text, which the
command line shows) through `option`::

    @dataclasses.dataclass(frozen=True)
    class PoolingConfig(Config):
        seeds: int = option(3, integer(1, 1000), "seeds per (size, variant)")

A failed check raises `ConfigError` (a ``ValueError``) naming the class, the field, the value and what is
allowed; a config may add cross-field rules in ``_check()``. Checks also normalise (a tuple from a list, an
``int`` from a NumPy integer), so what a config holds is what was validated.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], Any]  # returns the normalised value or raises _Invalid(allowed)


class ConfigError(ValueError):
    """An invalid configuration field (a `ValueError`, so ``except ValueError`` catches it)."""


class _Invalid(Exception):
    def __init__(self, allowed: str):
        super().__init__(allowed)
        self.allowed = allowed


def option(default: Any, check: Check | None = None, help: str = "") -> Any:  # noqa: A002  (argparse's word)
    """A dataclass field with a default, an optional check and a help text."""
    return dataclasses.field(default=default, metadata={"check": check, "help": help})


def fail(config: Any, name: str, value: Any, allowed: str) -> None:
    """Raise the one-line error for field ``name`` of ``config``."""
    raise ConfigError(f"{type(config).__name__}.{name}={value!r} is invalid: {allowed}")


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def integer(lo: int | None = None, hi: int | None = None) -> Check:
    """An integer in ``[lo, hi]`` (either bound optional)."""
    bound = (f"in [{lo}, {hi}]" if lo is not None and hi is not None else f">= {lo}" if lo is not None
             else f"<= {hi}" if hi is not None else "")

    def check(v):
        if not _is_int(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _Invalid(f"must be an integer {bound}".rstrip())
        return int(v)

    return check


def real(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False) -> Check:
    """A finite real number within the bounds (``lo_open`` / ``hi_open``: strict)."""
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    bound = " and ".join(parts)

    def check(v):
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        if ok and lo is not None:
            ok = v > lo if lo_open else v >= lo
        if ok and hi is not None:
            ok = v < hi if hi_open else v <= hi
        if not ok:
            raise _Invalid(f"must be a finite number {bound}".rstrip())
        return float(v)

    return check


def positive(hi: float | None = None) -> Check:
    """A finite number > 0 (and <= ``hi``)."""
    return real(0.0, hi, lo_open=True)


def fraction(*, lo_open: bool = False, hi_open: bool = True) -> Check:
    """A fraction in [0, 1) by default."""
    return real(0.0, 1.0, lo_open=lo_open, hi_open=hi_open)


def boolean(v):
    if not isinstance(v, bool):
        raise _Invalid("must be True or False")
    return v


def choice(*values) -> Check:
    """One of ``values``."""
    def check(v):
        if v not in values:
            raise _Invalid(f"must be one of {', '.join(repr(x) for x in values)}")
        return v

    return check


def text(v):
    if not isinstance(v, str):
        raise _Invalid("must be a string")
    return v


def optional(inner: Check) -> Check:
    """None, or a value passing ``inner``."""
    def check(v):
        return None if v is None else inner(v)

    check.inner = inner
    return check


def tuple_of(inner: Check, *, min_len: int = 1, max_len: int | None = None, unique: bool = False,
             increasing: bool = False) -> Check:
    """A tuple (a list is accepted) of values passing ``inner``, with length and order rules."""
    def check(v):
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise _Invalid("must be a sequence")
        out = []
        for item in v:
            try:
                out.append(inner(item))
            except _Invalid as err:
                raise _Invalid(f"every entry {err.allowed}") from None
        if len(out) < min_len or (max_len is not None and len(out) > max_len):
            span = f"{min_len}" if max_len == min_len else f"{min_len}-{max_len}" if max_len else f">= {min_len}"
            raise _Invalid(f"must have {span} entries, got {len(out)}")
        if unique and len(set(out)) != len(out):
            raise _Invalid("must not repeat an entry")
        if increasing and any(b <= a for a, b in zip(out, out[1:], strict=False)):
            raise _Invalid("must be in increasing order")
        return tuple(out)

    check.inner = inner
    return check


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of every validated config: runs each field's check, then ``_check()`` for cross-field rules."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            if check is None:
                continue
            value = getattr(self, f.name)
            try:
                object.__setattr__(self, f.name, check(value))
            except _Invalid as err:
                fail(self, f.name, value, err.allowed)
        self._check()

    def _check(self) -> None:
        """Cross-field rules of a subclass (raise with `fail`)."""

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


__all__ = ["Config", "ConfigError", "boolean", "choice", "fail", "fraction", "integer", "option", "optional",
           "positive", "real", "text", "tuple_of"]
