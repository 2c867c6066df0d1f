"""CI runs what the README says: its test command verbatim, the import contract, and the strict docs build."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readmes_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)[0].splitlines()
                   if "pytest" in line)
    ci = (ROOT / ".ci" / "run").read_text()
    assert command in ci.splitlines(), f"the README's test command is not in .ci/run: {command}"
    assert "lint-imports" in command
    assert re.search(r"^sphinx-build .*-W .*docs docs/_build/html$", ci, flags=re.M), "CI builds the site strictly"


def test_the_import_contracts_hold():
    """The layers, no cycle at any depth, no use of the deprecated aliases (``[tool.importlinter]``)."""
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout
