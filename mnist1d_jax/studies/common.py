"""What every study script shares: its command line.

Each study module exposes ``run(config, out)`` (does the work, writes its JSON), ``draw(out)`` (the figure
from that JSON only) and ``main(argv)``; these helpers keep the last two uniform.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def study_parser(description: str, *, quick_help: str, seeds: int | None = None) -> argparse.ArgumentParser:
    """The options every study script takes: ``--out``, ``--quick``, ``--redraw`` and, if it has seeds, ``--seeds``.

    Args:
      description: one line for ``--help``.
      quick_help: what ``--quick`` shrinks (it must say it is a smoke test, not a result).
      seeds: the default seed count, or None for a study without a seed option.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for the figure and its JSON")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--redraw", action="store_true", help="only redraw the figure from the saved JSON")
    if seeds is not None:
        parser.add_argument("--seeds", type=int, default=seeds, help=f"how many seeds (default {seeds})")
    return parser
