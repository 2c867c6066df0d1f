"""Shared fixtures. Tests run on the CPU with a private dataset cache, unless ``$JAX_PLATFORMS`` names another
backend: ``JAX_PLATFORMS=cuda pytest -n 4 tests`` runs the same suite on a GPU (each worker allocating GPU
memory as it needs it, not 75 % up front)."""

import os
import tempfile
from pathlib import Path

import jax
import numpy as np
import pytest

from mnist1d_jax.runtime.compile_cache import enable_compile_cache

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")
# Under pytest-xdist several workers share one accelerator: each must not grab most of its memory at start.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
ON_CPU = os.environ["JAX_PLATFORMS"].split(",")[0].strip().lower() == "cpu"
# The suite's programs are tiny and compiled once each, so compile time is most of its run time: skipping
# LLVM's optimisation passes makes compiling ~30 % faster and changes no result the tests check (jit and eager,
# vmap and loop, ours and the reference all run under the same flags). Subprocesses (the scripts' end-to-end
# tests) inherit it. Benchmarks and real runs never see this flag.
if ON_CPU and "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
# Two CPU devices whatever the machine, so that every many-seed call in the suite also exercises the split of
# the seed axis over devices (and its padding, for odd seed counts), as the scripts do on a multi-core machine.
# (On an accelerator host the tests use its devices, however many; the tests that count follow that count.)
jax.config.update("jax_num_cpu_devices", 2)
# The suite's own persistent compilation cache, shared by the xdist workers and by the commands the tests start
# (they inherit the variable), and never a user's: the second run of the suite loads its programs.
os.environ.setdefault("MNIST1D_JAX_COMPILE_CACHE",
                      str(Path(tempfile.gettempdir()) / f"mnist1d-jax-test-compile-cache-{os.getuid()}"))
enable_compile_cache()

DATA = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def frozen():
    """The paper's frozen dataset (tests/fixtures/README.md)."""
    with np.load(DATA / "mnist1d_frozen.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never touch the user's cache: every test gets its own cache folder."""
    monkeypatch.setenv("MNIST1D_JAX_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def run_quick(tmp_path):
    """``run_quick(name, **changes) -> (record, record read back from disk)``: the study's ``QUICK`` config (with
    changes) through the one runner into a temporary folder, figures drawn."""
    from mnist1d_jax.report.runner import load_record, run_study, study_module

    def run(name, **changes):
        module = study_module(name)
        config = module.QUICK.replace(**changes) if changes else module.QUICK
        record = run_study(module, config, tmp_path / name)
        return record, load_record(module, tmp_path / name)

    return run
