"""Running `python scripts/x.py` puts scripts/ first on sys.path: no script may shadow a standard module."""

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_no_script_shadows_the_standard_library():
    clashes = [p.name for p in SCRIPTS.glob("*.py") if p.stem in sys.stdlib_module_names]
    assert not clashes, f"rename {clashes}: they shadow standard-library modules for every script"
