"""The documentation's code runs as written: every Python block of the top-level example pages (docs/*.md),
top to bottom in one namespace, and what a page promises holds (checked on the namespace it leaves). The
snippets of the other pages (docs/**/*.md: the guides, whose examples need real sizes or data they do not
make) are checked like the README's: valid Python whose imports run and whose ``m.<name>`` exist."""

import ast
import re
from pathlib import Path

import jax
import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
SKIP = {"_build", "jupyter_execute"}


def blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


PAGES = sorted(p for p in DOCS.glob("*.md") if blocks(p))
SNIPPET_PAGES = sorted(p for p in DOCS.rglob("*.md") if p not in PAGES and blocks(p)
                       and not SKIP & set(p.relative_to(DOCS).parts))


def check_metalearning_example(ns: dict) -> None:
    """The weight-decay example: the validation loss falls over the outer steps, and forward mode's run ends
    where the exact one does (the same meta-gradient up to float32 rounding, the same keys; Adam's normalised
    steps carry the rounding into the log decays at the 1e-2 level)."""
    values = ns["metrics"]["value"]
    assert values.shape == (4, 15) and values[:, -3:].mean() < values[:, :3].mean()
    for a, b in zip(jax.tree.leaves(ns["state"].meta), jax.tree.leaves(ns["state_fwd"].meta), strict=True):
        np.testing.assert_allclose(a, b, atol=2e-2)


CHECKS = {"write_your_own_metalearning_problem": check_metalearning_example}


def test_the_checked_pages_are_executed():
    assert set(CHECKS) <= {p.stem for p in PAGES}


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_code_block_of_the_page_runs(page, capsys):
    namespace: dict = {"__name__": "__docs__"}
    code = blocks(page)
    assert code, f"{page.name} has no Python block"
    for i, block in enumerate(code):
        exec(compile(block, f"{page.name}[block {i}]", "exec"), namespace)
    assert capsys.readouterr().out.strip(), "the example prints what it computed"
    CHECKS.get(page.stem, lambda ns: None)(namespace)


@pytest.mark.parametrize("page", SNIPPET_PAGES, ids=[str(p.relative_to(DOCS)) for p in SNIPPET_PAGES])
def test_the_guides_snippets_import_and_name_what_exists(page):
    """Every import line of the page's Python blocks runs (warnings are errors: no deprecated path), and every
    ``m.<name>`` they use exists."""
    import mnist1d_jax as m

    for i, block in enumerate(blocks(page)):
        tree = ast.parse(block, f"{page.name}[block {i}]")
        imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(body=imports, type_ignores=[]), f"{page.name}[block {i}]", "exec"), {})
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "m":
                assert hasattr(m, node.attr), f"{page.name} uses m.{node.attr}, which mnist1d_jax does not have"
