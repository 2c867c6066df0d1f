"""The backend module: the CPU device count and the backend-gated XLA option."""

import subprocess
import sys

import jax
import pytest

from mnist1d_jax.runtime.backend import on_cpu, reduction_heavy_options, use_cpu_cores


def test_suite_has_two_cpu_devices_and_the_cpu_option_only_on_a_cpu():
    assert len(jax.devices("cpu")) == 2
    if on_cpu():
        assert reduction_heavy_options() == {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}
    else:
        assert reduction_heavy_options() is None


def test_use_cpu_cores_validates_and_is_strict_only_on_request(monkeypatch):
    jax.devices()  # backends are initialised from here on: the count cannot change any more
    assert use_cpu_cores(4) == 2  # default: the count in effect, unchanged
    with pytest.raises(RuntimeError, match="before backends are initialized"):
        use_cpu_cores(4, strict=True)
    with pytest.raises(ValueError, match=">= 1"):
        use_cpu_cores(0)
    monkeypatch.setenv("MNIST1D_JAX_CPU_DEVICES", "two")
    with pytest.raises(ValueError, match="not an integer"):
        use_cpu_cores()


def _count_in_fresh_process(env: dict, code: str) -> str:
    base = {"PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**base, **env}).stdout.split()


_CODE = ("from mnist1d_jax.runtime.backend import use_cpu_cores; n = use_cpu_cores(); import jax; "
         "print(n, jax.config.jax_num_cpu_devices, len(jax.devices('cpu')) if {init} else '-')")


def test_use_cpu_cores_leaves_a_users_own_device_count_alone():
    flags = {"XLA_FLAGS": "--xla_force_host_platform_device_count=3"}
    assert _count_in_fresh_process(flags, _CODE.format(init=True)) == ["3", "-1", "3"]
    # ours overrides it only when asked by name
    assert _count_in_fresh_process({**flags, "MNIST1D_JAX_CPU_DEVICES": "2"}, _CODE.format(init=True)) == \
        ["2", "2", "2"]
    code = "import jax; jax.config.update('jax_num_cpu_devices', 5); " + _CODE.format(init=True)
    assert _count_in_fresh_process({}, code) == ["5", "5", "5"]


def test_use_cpu_cores_does_nothing_when_another_backend_comes_first():
    # No backend is started (this machine may have no GPU): the count is left at JAX's default.
    assert _count_in_fresh_process({"JAX_PLATFORMS": "cuda,cpu"}, _CODE.format(init=False)) == ["1", "-1", "-"]
