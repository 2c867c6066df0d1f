"""Saving figures: laid out, written atomically (never half a PNG), closed."""

from __future__ import annotations

from pathlib import Path

from mnist1d_jax.runtime.results import atomic_write

# One colour per digit class (matplotlib's "Paired" palette, as the original's t-SNE figures).
DIGIT_COLORS = ("#a6cee3", "#1f78b4", "#b2df8a", "#33a02c", "#fb9a99", "#e31a1c", "#fdbf6f", "#ff7f00", "#cab2d6",
                "#6a3d9a")


def save_figure(fig, path: str | Path, dpi: int = 110, tight: bool = True) -> Path:
    """Lay out `fig` (``tight=False`` keeps the caller's layout), write it to `path` atomically (a crash never
    leaves half a PNG; missing folders are made) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    if tight:
        fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi))
    plt.close(fig)
    return path
