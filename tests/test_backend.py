"""The backend module: the CPU device count and the backend-gated XLA option."""

import jax
import pytest

from mnist1d_jax.backend import on_cpu, reduction_heavy_options, use_cpu_cores


def test_suite_has_two_cpu_devices_and_knows_its_backend():
    assert len(jax.devices()) == 2 and on_cpu()
    assert reduction_heavy_options() == {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


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
