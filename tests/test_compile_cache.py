"""The persistent compilation cache: the same records with and without it, a broken folder costs one warning line
and nothing else, and what changes a program (precision, device count) is part of the cache key."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from mnist1d_jax.runtime import compile_cache
from mnist1d_jax.runtime.compile_cache import CompileCacheWarning, enable_compile_cache

SKIP = {"runtime", "runtime_s", "runtime_this_process_s", "cpu_s", "provenance", "wall_s_including_compile",
        "s_per_outer_step_excluding_compile"}


def _cli(args, env_changes, cwd):
    env = {**os.environ, **env_changes}
    return subprocess.run([sys.executable, "-m", "mnist1d_jax.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in SKIP}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_cached_and_uncached_runs_give_identical_records(tmp_path):
    """Off, cold (filling a new folder) and warm (reading it): the records are equal, number for number."""
    cache = tmp_path / "xla"
    runs = {"off": ({"MNIST1D_JAX_COMPILE_CACHE": "off"}, ["--no-compile-cache"]),
            "cold": ({"MNIST1D_JAX_COMPILE_CACHE": str(cache)}, []),
            "warm": ({"MNIST1D_JAX_COMPILE_CACHE": str(cache)}, [])}
    records = {}
    for name, (env, flag) in runs.items():
        out = tmp_path / name
        done = _cli(["metalearn-lr", "--quick", "--no-memory", "--out", str(out), *flag], env, tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        records[name] = _strip(json.loads((out / "metalearn_lr.json").read_text()))
        if name == "cold":
            assert any(cache.iterdir()), "the cold run wrote no cache entry"
    assert records["off"] == records["cold"] == records["warm"]


def test_a_folder_that_cannot_be_used_costs_one_warning_line(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(CompileCacheWarning, match="cannot be used"):
        assert enable_compile_cache(blocker / "xla") is None
    done = _cli(["metalearn-lr", "--quick", "--no-memory", "--out", str(tmp_path / "out")],
                {"MNIST1D_JAX_COMPILE_CACHE": str(blocker)}, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if "compilation cache" in line]
    assert len(lines) == 1 and lines[0].startswith("mnist1d-jax: warning: compilation cache")
    assert (tmp_path / "out" / "metalearn_lr.json").exists()


def test_the_folder_and_the_switch():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compile_cache.default_folder() == Path(os.environ["MNIST1D_JAX_COMPILE_CACHE"])
    env = {k: v for k, v in os.environ.items() if k != "MNIST1D_JAX_COMPILE_CACHE"}
    code = ("import os; from mnist1d_jax.runtime import compile_cache as c; print(c.default_folder()); "
            "os.environ['MNIST1D_JAX_COMPILE_CACHE'] = 'off'; print(c.enable_compile_cache())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "MNIST1D_JAX_CACHE": "/somewhere/data"}, check=True).stdout.split()
    assert out == ["/somewhere/data/xla", "None"]


KEYED = """
import sys, jax, jax.numpy as jnp
jax.config.update("jax_num_cpu_devices", int(sys.argv[2]))
from mnist1d_jax.runtime.compile_cache import enable_compile_cache
from mnist1d_jax.runtime.precision import emulate, use_precision
enable_compile_cache(sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
with use_precision(sys.argv[3]):
    f = jax.jit(lambda a, b: emulate(a) @ emulate(b))
    f(jnp.ones((8, 8)), jnp.ones((8, 8))).block_until_ready()
"""


def test_precision_and_device_count_are_part_of_the_key(tmp_path):
    """The same function compiled again under the same settings adds no entry; another device count or another
    precision policy adds one each (a program cached for one setting is never loaded under another)."""
    cache = tmp_path / "xla"

    def entries(devices, precision):
        subprocess.run([sys.executable, "-c", KEYED, str(cache), str(devices), precision], check=True,
                       capture_output=True, text=True)
        return len([p for p in cache.iterdir() if not p.name.startswith(".")])

    first = entries(1, "float32")
    assert first >= 1
    assert entries(1, "float32") == first  # the same program, loaded
    more_devices = entries(2, "float32")
    assert more_devices > first
    assert entries(2, "bf16") > more_devices
