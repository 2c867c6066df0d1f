"""Figures without pyplot's global state, saved atomically.

* `new_figure(nrows, ncols, figsize=..., **subplots_kw)` -> ``(fig, axes)``: a ``matplotlib.figure.Figure``
  that no pyplot registry holds and no backend switch made, so a study's drawing behaves the same in a script,
  a test and a notebook (where switching to Agg would silence the user's inline plots);
* `save_figure(fig, path)`: laid out, written atomically (never half a PNG).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mnist1d_jax.runtime.results import atomic_write

# One colour per digit class (matplotlib's "Paired" palette, as the original's t-SNE figures).
DIGIT_COLORS = ("#a6cee3", "#1f78b4", "#b2df8a", "#33a02c", "#fb9a99", "#e31a1c", "#fdbf6f", "#ff7f00", "#cab2d6",
                "#6a3d9a")


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **subplots_kw) -> tuple[Any, Any]:
    """A figure of ``nrows x ncols`` axes (``figsize`` in inches; ``subplots_kw`` as ``Figure.subplots``:
    ``sharex``, ``squeeze``, ``gridspec_kw``, ...), drawn by the Agg canvas when saved; pyplot is never used."""
    from matplotlib.figure import Figure  # local: matplotlib costs half a second of every command's start-up

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **subplots_kw)


def save_figure(fig, path: str | Path, dpi: int = 110, tight: bool = True) -> Path:
    """Lay out `fig` (``tight=False`` keeps the caller's layout) and write it to `path` atomically (a crash never
    leaves half a PNG; missing folders are made); a figure that pyplot holds is closed."""
    path = Path(path)
    if tight:
        fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi))
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and pyplot.fignum_exists(fig.number if hasattr(fig, "number") else -1):
        pyplot.close(fig)  # a figure the caller made with pyplot: free it, as before
    return path
