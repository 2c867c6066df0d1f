"""The README's gallery and links (figures, scripts, the docs pages) point at files that exist in the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_figure_and_file_the_readme_links_exists():
    text = (ROOT / "README.md").read_text()
    targets = set(re.findall(r'\]\(((?:figures|scripts|mnist1d_jax|docs)/[^)\s#]+)\)', text))
    targets |= set(re.findall(r'<img src="([^"]+)"', text))
    assert any(t.endswith(".png") for t in targets), "the gallery shows no figure"
    missing = sorted(t for t in targets if not (ROOT / t).exists())
    assert not missing, f"README links to missing files: {missing}"


def test_the_readmes_code_imports_and_api_names_exist():
    """Every import line of the README's Python examples runs, and every ``m.<name>`` they use exists."""
    import ast

    import mnist1d_jax as m

    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        tree = ast.parse(block)  # the examples are valid Python
        imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(body=imports, type_ignores=[]), "README.md", "exec"), {})
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "m":
                assert hasattr(m, node.attr), f"README uses m.{node.attr}, which mnist1d_jax does not have"
