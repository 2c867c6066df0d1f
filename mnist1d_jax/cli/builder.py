"""One command line from a config dataclass: every field an option, typed from its annotation, with its help.

``add_config_options(parser, cls)`` adds ``--field-name`` for every field of ``cls`` (``bool``: ``--x / --no-x``;
a tuple: several values; ``X | None``: the value or ``none``, which no other field takes);
``config_from_args(args, cls, base)`` returns ``base`` with the given options replaced, validated by the config
itself. A bad value ends as ``parser.error(...)``: one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing

from mnist1d_jax.runtime.validation import ConfigError

_SCALARS = {"int": int, "float": float, "str": str, "bool": bool}


class _ExplicitNone:
    """What ``--x none`` parses to for an optional field (None itself means "not given")."""

    def __repr__(self) -> str:
        return "None"


NONE = _ExplicitNone()


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _number(kind, optional: bool = False):
    """An argparse type for ``kind`` (``none`` gives None where the field is optional); a text that does not parse
    is an argparse error naming it."""
    def parse(text: str):
        if text.strip().lower() == "none":
            if optional:
                return NONE
            raise argparse.ArgumentTypeError(f"{text!r}: this option takes a value, not none")
        if kind is str:
            return text
        try:
            return kind(text)
        except ValueError:
            if kind is int:  # "1e3" or "2.0" as an int: say so instead of a bare "invalid int value"
                try:
                    as_float = float(text)
                except ValueError:
                    raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
                raise argparse.ArgumentTypeError(f"not an integer: {text!r} (= {as_float:g})") from None
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None

    parse.__name__ = kind.__name__
    return parse


def _kind(annotation: str):
    """(element type, is_tuple, fixed_length) from an annotation string such as ``tuple[int, ...] | None``."""
    ann = annotation.replace(" ", "").replace("|None", "").replace("None|", "").replace("Optional[", "")
    m = re.fullmatch(r"tuple\[(\w+),\.\.\.\]", ann)
    if m:
        return _SCALARS.get(m.group(1), str), True, None
    m = re.fullmatch(r"tuple\[([\w,]+)\]", ann)
    if m:
        parts = m.group(1).split(",")
        return _SCALARS.get(parts[0], str), True, len(parts)
    return _SCALARS.get(ann.rstrip("]"), str), False, None


def add_config_options(parser: argparse.ArgumentParser, cls, *, skip: tuple[str, ...] = (), title: str | None = None):
    """One option per field of the dataclass ``cls`` (defaults shown; none is required)."""
    group = parser.add_argument_group(title or f"{cls.__name__} (defaults: the paper's protocol)")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name.startswith("_"):
            continue
        annotation = str(f.type) if isinstance(f.type, str) else str(hints[f.name])
        annotation = annotation.replace("typing.", "").replace("<class '", "").replace("'>", "")
        kind, is_tuple, length = _kind(annotation)
        optional = "None" in annotation
        default = f.default if f.default is not dataclasses.MISSING else None
        shown = default if not isinstance(default, tuple) else " ".join(map(str, default)) or "(none)"
        help_text = (f.metadata.get("help") or "").rstrip(".")
        help_text = f"{help_text} (default: {shown})" if help_text else f"default: {shown}"
        help_text = help_text.replace("%", "%%")  # argparse %-formats help strings ("80 % train" would crash --help)
        name = _option(f.name)
        if kind is bool and not is_tuple:
            group.add_argument(name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif is_tuple:
            group.add_argument(name, type=_number(kind, optional), nargs=length or "+", default=None, metavar="V",
                               help=help_text)
        else:
            group.add_argument(name, type=_number(kind, optional), default=None, metavar="V", help=help_text)


def given_options(args: argparse.Namespace, cls) -> dict:
    """The fields of ``cls`` given on the command line (as the config expects them: tuples for lists)."""
    out = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is NONE or (isinstance(value, list) and NONE in value):
            out[f.name] = None  # ``--x none``: the optional field set to None
        elif value is not None:
            out[f.name] = tuple(value) if isinstance(value, list) else value
    return out


def config_from_args(args: argparse.Namespace, cls, base=None, parser: argparse.ArgumentParser | None = None):
    """``base`` (default ``cls()``) with the given options replaced; an invalid value is ``parser.error``."""
    changes = given_options(args, cls)
    try:
        return dataclasses.replace(base, **changes) if base is not None else cls(**changes)
    except (ConfigError, ValueError, TypeError) as err:
        if parser is None:
            raise
        parser.error(str(err))


__all__ = ["add_config_options", "config_from_args", "given_options"]
