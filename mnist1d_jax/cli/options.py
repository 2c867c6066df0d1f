"""The global options of the ``mnist1d-jax`` CLI, accepted before a command's name or after it:
``--precision``, ``--classes`` and ``--no-compile-cache``, with their defaults from the environment.

`add_global_options` adds all three to a parser; `main` (`mnist1d_jax.cli.app`) resolves them once, for the
whole process, before any command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from mnist1d_jax.cli.common import PROG
from mnist1d_jax.data.classes import ALL_CLASSES, parse_classes
from mnist1d_jax.data.classes import ENV_VAR as CLASSES_ENV
from mnist1d_jax.runtime.compile_cache import ENV_VAR as COMPILE_CACHE_ENV
from mnist1d_jax.runtime.compile_cache import CompileCacheWarning, enable_compile_cache
from mnist1d_jax.runtime.precision import ENV_VAR as PRECISION_ENV
from mnist1d_jax.runtime.precision import NAMES as PRECISIONS


def add_global_options(parser: argparse.ArgumentParser, precision, classes, no_compile_cache) -> None:
    """Add ``--precision``, ``--classes`` and ``--no-compile-cache`` to `parser` with these defaults
    (``argparse.SUPPRESS`` on a subcommand: a value parsed before the command's name is then kept)."""
    _add_precision_option(parser, precision)
    _add_classes_option(parser, classes)
    _add_compile_cache_option(parser, no_compile_cache)


def _add_precision_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default=default,
                        help="matmul precision of the models' products: float32 (full float32 on every backend), "
                        "tf32 or bf16 (operands rounded to TensorFloat-32 / bfloat16, emulated on a CPU); default: "
                        f"${PRECISION_ENV}, else float32")


def _classes_type(text: str) -> tuple[int, ...]:
    try:
        return parse_classes(text, source="")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def classes_from_environment() -> tuple[int, ...]:
    """The default of ``--classes``: ``$MNIST1D_JAX_CLASSES`` if set, else all ten digits (a bad value is a
    one-line ``ValueError``)."""
    text = os.environ.get(CLASSES_ENV, "").strip()
    return parse_classes(text, f"${CLASSES_ENV}") if text else ALL_CLASSES


def _add_classes_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--classes", type=_classes_type, default=default, metavar="DIGITS",
                        help="train on these digits, hold out the rest (e.g. 0-7, 0,2,4 or 0-3,8; labels stay the "
                        "digits, models keep ten outputs; held-out test digits give an out-of-distribution score); "
                        f"default: ${CLASSES_ENV}, else all ten")


def _add_compile_cache_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--no-compile-cache", action="store_true", default=default,
                        help=f"compile without JAX's persistent compilation cache (default: on, in "
                        f"${COMPILE_CACHE_ENV} or xla/ beside the dataset cache)")


def use_compile_cache(off: bool) -> None:
    """The command's compilation cache: on unless `off` (then off for the studies it starts too, through the
    environment they inherit); a folder that cannot be used is one line on stderr, not a failure."""
    if off:
        os.environ[COMPILE_CACHE_ENV] = "off"
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CompileCacheWarning)
        enable_compile_cache()
    for w in caught:
        print(f"{PROG}: warning: {w.message}", file=sys.stderr)
