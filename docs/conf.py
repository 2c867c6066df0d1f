"""Sphinx configuration of the mnist1d-jax documentation site.

Build (warnings are errors; the tutorials are executed):

    python -m pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # the package from this checkout, installed or not

# The repository's public address: the one place to set it. The Colab install cell and badge of every tutorial
# carry the same string (Colab opens a notebook without this file); tests/test_docs_site.py checks they agree.
REPO_URL = "https://github.com/OWNER/mnist1d-jax"
REPO_BRANCH = "main"

project = "mnist1d-jax"
author = "the mnist1d-jax authors"
copyright = "the mnist1d-jax authors"

extensions = [
    "myst_nb",  # Markdown pages (MyST) and executed Jupyter notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # the package's docstrings are Google style (Args:, Returns:)
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
]

exclude_patterns = [
    "_build",
    "jupyter_execute",
    "**.ipynb_checkpoints",
    "README.md",
    "**/README.md",
]

# --- MyST ---------------------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3  # "page.md#a-section" links

# --- MyST-NB: every tutorial runs top to bottom at every build, and an error fails the build ---------------
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True  # the traceback in the build log when a cell fails
nb_execution_timeout = 300  # seconds per cell; each tutorial runs in well under 90 s on a 2-core CPU
nb_execution_allow_errors = False
nb_merge_streams = True
# The kernels inherit this process's environment: CI exports MPLBACKEND=Agg, which would drop the plots.
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

# --- API reference from the docstrings ----------------------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
default_role = "py:obj"  # `name` in a docstring links to the object when it is documented

# --- HTML ---------------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "mnist1d-jax"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "repository_url": REPO_URL,
    "repository_branch": REPO_BRANCH,
    "path_to_docs": "docs",
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
}
