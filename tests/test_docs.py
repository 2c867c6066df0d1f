"""The documentation's code runs as written: every Python block of docs/*.md, top to bottom in one namespace,
and what a page promises holds (checked on the namespace it leaves)."""

import re
from pathlib import Path

import jax
import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def check_metalearning_example(ns: dict) -> None:
    """The weight-decay example: the validation loss falls over the outer steps, and forward mode's run ends
    where the exact one does (the same meta-gradient up to float32 rounding, the same keys; Adam's normalised
    steps carry the rounding into the log decays at the 1e-2 level)."""
    values = ns["metrics"]["value"]
    assert values.shape == (4, 15) and values[:, -3:].mean() < values[:, :3].mean()
    for a, b in zip(jax.tree.leaves(ns["state"].meta), jax.tree.leaves(ns["state_fwd"].meta), strict=True):
        np.testing.assert_allclose(a, b, atol=2e-2)


CHECKS = {"write_your_own_metalearning_problem": check_metalearning_example}


def blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_code_block_of_the_page_runs(page, capsys):
    namespace: dict = {"__name__": "__docs__"}
    code = blocks(page)
    assert code, f"{page.name} has no Python block"
    for i, block in enumerate(code):
        exec(compile(block, f"{page.name}[block {i}]", "exec"), namespace)
    assert capsys.readouterr().out.strip(), "the example prints what it computed"
    CHECKS.get(page.stem, lambda ns: None)(namespace)
