"""The documentation site's sources hold together, checked in seconds without building it (CI builds it with
``sphinx-build -W``, which executes the tutorials): the tutorials are clean notebooks that open with the Colab
install cell, every page is reachable from the index, every link points at a file, and the API reference
covers every module of the layer packages and every top-level name."""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP = {"_build", "jupyter_execute", "_static", ".ipynb_checkpoints"}
TUTORIALS = sorted((DOCS / "tutorials").glob("*.ipynb"))
LAYERS = ("data", "nn", "core", "meta", "analysis", "runtime", "report")


def _conf_constant(name: str) -> str:
    """A string constant of docs/conf.py, read without running it (it sets the build's environment)."""
    for node in ast.parse((DOCS / "conf.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"docs/conf.py defines no {name}")


def _pages() -> list[Path]:
    found = [*DOCS.rglob("*.md"), *DOCS.rglob("*.ipynb")]
    return sorted(p for p in found if not SKIP & set(p.relative_to(DOCS).parts) and p.name != "README.md")


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _toctree_entries(page: Path) -> list[Path]:
    """The documents a page's toctrees list, as paths relative to docs/ without suffix."""
    text = page.read_text() if page.suffix == ".md" else ""
    entries = []
    for body in re.findall(r"```\{toctree\}\n(.*?)```", text, flags=re.S):
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                entries.append((page.parent / line).resolve().relative_to(DOCS.resolve()))
    return entries


def test_there_are_four_tutorials_named_by_number():
    assert len(TUTORIALS) == 4
    for nb in TUTORIALS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", nb.name), nb.name


@pytest.mark.parametrize("nb", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_is_a_clean_notebook(nb):
    """Valid nbformat 4, no stored outputs (the site executes them; Colab users run them)."""
    data = json.loads(nb.read_text())
    assert data["nbformat"] == 4 and isinstance(data["metadata"], dict)
    assert data["metadata"].get("kernelspec", {}).get("name") == "python3"
    assert data["cells"], "an empty notebook"
    for i, cell in enumerate(data["cells"]):
        assert cell["cell_type"] in ("markdown", "code"), (i, cell["cell_type"])
        assert isinstance(cell.get("metadata"), dict) and isinstance(cell["source"], (str, list))
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has stored outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"
            ast.parse(_source(cell).replace("%matplotlib inline", ""), f"{nb.name}[cell {i}]")
    try:
        import nbformat
    except ImportError:  # the docs extra is not installed: the checks above stand in for the schema
        return
    nbformat.validate(nbformat.reads(nb.read_text(), as_version=4))


@pytest.mark.parametrize("nb", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_opens_with_a_colab_badge_and_the_install_cell(nb):
    repo = _conf_constant("REPO_URL")
    branch = _conf_constant("REPO_BRANCH")
    cells = json.loads(nb.read_text())["cells"]
    title = _source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and title.startswith("# ")
    colab = repo.replace("https://github.com/", "https://colab.research.google.com/github/")
    assert f"({colab}/blob/{branch}/docs/tutorials/{nb.name})" in title, "the Colab badge's link"
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert first_code is cells[1], "the install cell comes right after the title"
    install = _source(first_code)
    assert install.startswith("# Colab: install mnist1d-jax when it is missing")
    assert f'REPO_URL = "{repo}"' in install, "the same REPO_URL as docs/conf.py"
    assert 'importlib.util.find_spec("mnist1d_jax") is None' in install
    assert 'f"mnist1d-jax @ git+{REPO_URL}"' in install
    # nothing heavy is imported, so that a later line of the cell (tutorial 4) can still set XLA_FLAGS for JAX
    assert "import jax" not in install and "import mnist1d_jax" not in install


def test_every_tutorial_is_in_a_toctree():
    listed = {e for page in _pages() for e in _toctree_entries(page)}
    for nb in TUTORIALS:
        assert nb.relative_to(DOCS).with_suffix("") in listed, f"{nb.name} is in no toctree"


def test_every_page_is_reachable_from_the_index():
    seen, todo = set(), [Path("index")]
    while todo:
        doc = todo.pop()
        if doc in seen:
            continue
        seen.add(doc)
        page = next((DOCS / doc).with_suffix(s) for s in (".md", ".ipynb") if (DOCS / doc).with_suffix(s).exists())
        todo += _toctree_entries(page)
    pages = {p.relative_to(DOCS).with_suffix("") for p in _pages()}
    assert not pages - seen, f"pages no toctree reaches from index.md: {sorted(map(str, pages - seen))}"
    assert not seen - pages, f"toctree entries without a page: {sorted(map(str, seen - pages))}"


def test_every_relative_link_of_the_docs_points_at_a_file():
    missing = []
    for page in _pages():
        text = page.read_text()
        if page.suffix == ".ipynb":
            text = "\n".join(_source(c) for c in json.loads(text)["cells"] if c["cell_type"] == "markdown")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            path = target.split("#")[0]
            if not path or re.match(r"[a-z]+:", path):
                continue
            if not (page.parent / path).exists():
                missing.append(f"{page.relative_to(DOCS)} -> {target}")
    assert not missing, missing


@pytest.mark.parametrize("layer", LAYERS)
def test_the_api_reference_documents_every_module_of_the_layer(layer):
    text = (DOCS / "api" / f"{layer}.md").read_text()
    documented = set(re.findall(r"\.\. automodule:: (\S+)", text))
    modules = {f"mnist1d_jax.{layer}.{p.stem}" for p in (ROOT / "mnist1d_jax" / layer).glob("*.py")
               if p.name != "__init__.py"}
    assert f"mnist1d_jax.{layer}" in documented
    assert not modules - documented, f"modules missing from docs/api/{layer}.md: {sorted(modules - documented)}"
    assert not documented - modules - {f"mnist1d_jax.{layer}"}, "docs/api documents modules that do not exist"
    index = (DOCS / "api" / "index.md").read_text()
    assert f"\n{layer}\n" in index, f"docs/api/index.md does not list {layer}"


def test_the_api_reference_lists_every_top_level_name():
    import mnist1d_jax as m

    text = (DOCS / "api" / "mnist1d_jax.md").read_text()
    listed = set(re.findall(r"^   ~[\w.]+\.(\w+)$", text, flags=re.M))
    submodules = set(re.findall(r"^\| `m\.(\w+)` \|", text, flags=re.M))
    names = set(m.__all__) - {"__version__"}
    assert names == listed | submodules, (sorted(names - listed - submodules), sorted(listed | submodules - names))
