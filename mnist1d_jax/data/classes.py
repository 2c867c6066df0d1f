"""Class subsets: train on some digits, hold the others out (continual learning, out-of-distribution
detection). The subset is always an explicit argument: nothing here reads the environment or a global.

* `parse_classes("0-7" | "0,2,4" | "0-3,8" | "all")` -> a sorted tuple of digits in 0..9; bad text (empty,
  out of range, a reversed range, a digit twice, no digit at all) is a one-line ``ValueError``.
* `classes_text(classes)` -> the canonical text (``"0-7"``, ``"0,2,4"``, ``"0-3,8"``; all ten: ``"0-9"``).
* `held_out_classes(classes)` -> the other digits; `is_subset(classes)` -> whether any digit is held out.
* `splits.select_classes(data, classes)` keeps the training, validation and test rows of those digits and moves
  the test rows of the others into ``Data.x_held, y_held`` (for out-of-distribution evaluation);
  `splits.prepare_data(..., classes=...)` does it for a whole dataset. **Labels stay the original digit
  labels** (a model trained on 0-7 still has ten outputs; the held-out ones are simply never the target).

`resolve_classes(classes)`: the digits named (text or digits), or all ten for None. The command line takes
``--classes`` (default ``$MNIST1D_JAX_CLASSES``, read by the CLI alone) and hands the digits to the study runner,
``report.runner.run_study(..., classes=...)``, which gives them to the study as ``ctx.classes``; a study passes
them on to ``prepare_data``. The runner records the digits in each record's provenance
(``"classes"`` and ``"held_out_classes"``, lists of digits) and keeps partial results of different subsets apart
(``.<NAME>_state_classes_0-7``); ``mnist1d-jax reproduce`` hands ``--classes`` to every study and counts a
record made under another subset as not done.

The studies under a subset (a study that refuses defines ``REFUSES_CLASS_SUBSET``, the reason, and the runner
raises `ClassSubsetError`, one line, before any work):

* honour it through ``prepare_data``: ``benchmarks``, ``lottery`` (search and every ablation dataset),
  ``pooling`` (each training-set size is then the kept rows of that size), ``metalearn_lr`` (the inner runs'
  training set), ``metalearn_activation`` (meta-training tasks and the transfer check), ``ssl`` (contrastive
  training and the linear probes), ``baseline_search``, ``lr_schedule``, ``optimizer_benchmark``,
  ``many_hyperparameters`` (training, validation and test rows of the kept digits);
* honour it by selection: ``tsne`` (no training, so nothing is "held out": both embeddings, MNIST-1D and the
  image digits, show only the kept digits);
* refuse it: ``dataset`` (it checks the generator against the frozen file's fingerprints, all ten classes by
  definition); ``classwise_errors`` (its protocol compares with the human quiz's fixed per-class error rates
  on fixed test indices of every digit); ``double_descent`` and ``epochwise_double_descent`` (their label noise
  replays the original notebook's draws over all 4,000 training labels and relabels examples with any of the
  ten digits, which would put held-out digits back into training); ``neural_collapse`` (its epochs are passes
  over all 4,000 training examples, and its measures, the simplex of the ten class means and the self-duality
  with the head's ten rows, need every digit present); ``distill`` (its synthetic set holds ten examples of each
  of the ten digits and its baselines draw from every class); ``learned_optimizer`` (its label-noise setting
  replays the original notebook's draws over all 4,000 training labels); ``reweight`` (its label noise replays
  the original notebook's draws over all 4,000 training labels and relabels examples with any of the ten
  digits); ``few_shot`` (its out-of-family test draws 5-way tasks from all ten digits, and its new classes are
  kept apart from all ten templates).
"""

from __future__ import annotations

import contextlib
import operator
import re
import warnings
from collections.abc import Iterable, Iterator

ENV_VAR = "MNIST1D_JAX_CLASSES"
ALL_CLASSES = tuple(range(10))

_setting: tuple[int, ...] | None = None  # only the deprecated set_classes / use_classes set it
_TOKEN = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")


class ClassSubsetError(ValueError):
    """A study or command that cannot run on a subset of the digits was asked to."""


def parse_classes(text: str, source: str = "classes") -> tuple[int, ...]:
    """``"0-7"``, ``"0,2,4"``, ``"0-3,8"`` (ranges inclusive; spaces allowed) or ``"all"`` -> the sorted digits.

    A bad text is a one-line ``ValueError`` naming ``source`` (e.g. ``$MNIST1D_JAX_CLASSES``; ``""``: the text
    alone)."""
    where = f"{source}={text!r}" if source else repr(text)
    if not isinstance(text, str):
        raise ValueError(f"{where}: give the digits as text, e.g. '0-7' or '0,2,4'")
    spec = text.strip()
    if not spec:
        raise ValueError(f"{where} names no digit: give e.g. '0-7', '0,2,4' or '0-3,8'")
    if spec.lower() == "all":
        return ALL_CLASSES
    digits: list[int] = []
    for token in spec.split(","):
        match = _TOKEN.match(token.strip())
        if match is None:
            raise ValueError(f"{where}: {token.strip()!r} is not a digit or a range like '0-7'")
        lo = int(match[1])
        hi = lo if match[2] is None else int(match[2])
        if lo > 9 or hi > 9:
            raise ValueError(f"{where}: digit {max(lo, hi)} is out of range (the classes are 0-9)")
        if hi < lo:
            raise ValueError(f"{where}: the range {lo}-{hi} is reversed; write {hi}-{lo}")
        for d in range(lo, hi + 1):
            if d in digits:
                raise ValueError(f"{where}: digit {d} is given twice")
            digits.append(d)
    return tuple(sorted(digits))


def _checked(classes, source: str = "classes") -> tuple[int, ...]:
    if isinstance(classes, str):
        return parse_classes(classes, source)
    try:
        digits = list(classes)
    except TypeError:
        raise ValueError(f"{source}={classes!r}: give digits like (0, 1, 2) or text like '0-7'") from None
    if not digits:
        raise ValueError(f"{source}={classes!r} names no digit: at least one class must be kept")
    out = []
    for d in digits:
        try:
            d = operator.index(d) if not isinstance(d, bool) else None
        except TypeError:
            d = None
        if d is None:
            raise ValueError(f"{source}={classes!r}: every class must be an integer digit 0-9")
        if not 0 <= d <= 9:
            raise ValueError(f"{source}={classes!r}: digit {d} is out of range (the classes are 0-9)")
        if d in out:
            raise ValueError(f"{source}={classes!r}: digit {d} is given twice")
        out.append(d)
    return tuple(sorted(out))


def resolve_classes(classes: str | Iterable[int] | None = None) -> tuple[int, ...]:
    """The kept digits, sorted: ``classes`` (text or digits); None: all ten. Bad input is a one-line
    ``ValueError``. (For one release, None also honours a block of the deprecated `use_classes`.)"""
    if classes is not None:
        return _checked(classes)
    return ALL_CLASSES if _setting is None else _setting


def _deprecated(name: str) -> None:
    warnings.warn(f"{name} is deprecated and goes in the next release: the class subset is an explicit argument "
                  "(prepare_data(..., classes=...), report.runner.run_study(..., classes=...))",
                  DeprecationWarning, stacklevel=3)


def current_classes() -> tuple[int, ...]:
    """Deprecated: the digits of an enclosing deprecated `use_classes` block, else all ten."""
    _deprecated("current_classes()")
    return resolve_classes()


def set_classes(classes: str | Iterable[int] | None = None) -> tuple[int, ...]:
    """Deprecated: make ``resolve_classes(classes)`` what ``classes=None`` means, for the process."""
    _deprecated("set_classes()")
    global _setting
    _setting = _checked(classes) if classes is not None else None
    return resolve_classes()


@contextlib.contextmanager
def use_classes(classes: str | Iterable[int] | None = None) -> Iterator[tuple[int, ...]]:
    """Deprecated: inside the block ``classes=None`` means these digits (restored on exit, also on an error)."""
    _deprecated("use_classes()")
    global _setting
    before, _setting = _setting, (_checked(classes) if classes is not None else None)
    try:
        yield resolve_classes()
    finally:
        _setting = before


def held_out_classes(classes: str | Iterable[int] | None = None) -> tuple[int, ...]:
    """The digits not in ``resolve_classes(classes)`` (empty when all ten are kept)."""
    kept = resolve_classes(classes)
    return tuple(d for d in ALL_CLASSES if d not in kept)


def is_subset(classes: str | Iterable[int] | None = None) -> bool:
    """Whether ``resolve_classes(classes)`` holds any digit out."""
    return resolve_classes(classes) != ALL_CLASSES


def classes_text(classes: str | Iterable[int] | None = None) -> str:
    """The canonical text of ``resolve_classes(classes)``: runs of consecutive digits as ranges, e.g. ``"0-7"``,
    ``"0,2,4"``, ``"0-3,8"``; all ten ``"0-9"`` (what `parse_classes` reads back)."""
    digits = resolve_classes(classes)
    parts, start = [], digits[0]
    for prev, d in zip(digits, [*digits[1:], None], strict=True):
        if d is None or d != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = d
    return ",".join(parts)


def refuse_class_subset(study: str, why: str, classes: str | Iterable[int] | None = None) -> None:
    """Raise `ClassSubsetError` (one line: ``study``, the subset and ``why``) when ``resolve_classes(classes)``
    holds digits out; nothing otherwise."""
    kept = resolve_classes(classes)
    if kept != ALL_CLASSES:
        raise ClassSubsetError(f"{study} cannot run on a class subset (--classes {classes_text(kept)}): {why}")


__all__ = ["ALL_CLASSES", "ENV_VAR", "ClassSubsetError", "classes_text", "current_classes", "held_out_classes",
           "is_subset", "parse_classes", "refuse_class_subset", "resolve_classes", "set_classes", "use_classes"]
