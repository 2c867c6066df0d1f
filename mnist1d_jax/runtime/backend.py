"""Everything that depends on the machine's backend, in one place.

* `on_cpu()`: whether programs are being built for a CPU; the layers use it to pick a CPU-specific kernel
  (the convolution in ``nn.conv``), so no other module needs to know.
* `reduction_heavy_options()`: the one CPU-only XLA option a study's programs use, nothing off the CPU.
* `bucket_plan()`: how width sweeps group widths into programs on this backend.
* `use_cpu_cores()`: one JAX CPU device per core (unless the user chose a count, or another backend).

A CPU is a single JAX device by default, whose small matrix products use the cores poorly (this project's
models are tiny). Asking JAX for one CPU device per core (``use_cpu_cores``) and splitting a many-run call's
run axis over them (``core.parallel``) runs the seeds of one vmapped call on all cores, one compiled program.
``use_cpu_cores`` must run before JAX does anything; the CLI and the scripts call it first thing.
``MNIST1D_JAX_CPU_DEVICES`` overrides the count (``1`` turns the split off).
"""

from __future__ import annotations

import os
import re

import jax

ENV_VAR = "MNIST1D_JAX_CPU_DEVICES"


def on_cpu() -> bool:
    """True when JAX's default backend (where programs are compiled unless placed elsewhere) is the CPU."""
    return jax.default_backend() == "cpu"


# XLA:CPU hands reductions fused with elementwise producers to its YNNPACK library by default. In the
# learned-activation study's programs that path is pathological: the sums over g's 12,800 inputs per inner
# step took 25 ms each instead of ~1 ms, and an exact 1→100→1 outer step 11.8 s instead of 2.0 s (measured,
# ``scripts/speed.py --only meta``). Keeping YNNPACK for matrix products only fixes it. A per-program option
# (not a process-wide flag): it makes the CNN's training programs slower (10 seeds: 17 s -> 21-25 s).
_CPU_DOT_ONLY_LIBRARY = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


def reduction_heavy_options() -> dict | None:
    """XLA compiler options for a top-level ``jax.jit`` of programs dominated by wide elementwise reductions
    (the learned-activation study): the CPU option above on a CPU, nothing elsewhere. Numbers are unaffected
    beyond float32 summation order."""
    return dict(_CPU_DOT_ONLY_LIBRARY) if on_cpu() else None


def user_cpu_device_count() -> int | None:
    """The CPU device count the user chose themselves: ``--xla_force_host_platform_device_count=N`` in
    ``$XLA_FLAGS`` or ``jax.config.update("jax_num_cpu_devices", N)`` made before ours; None if neither."""
    match = re.search(r"--xla_force_host_platform_device_count=(\d+)", os.environ.get("XLA_FLAGS", ""))
    if match:
        return int(match.group(1))
    configured = jax.config.jax_num_cpu_devices
    return configured if configured > 0 else None


def cpu_is_not_the_backend() -> bool:
    """True when ``$JAX_PLATFORMS`` names another backend first (``cuda``, ``tpu``, ...): then programs never
    run on the CPU and its device count is irrelevant. Read from the environment, so no backend is started."""
    first = os.environ.get("JAX_PLATFORMS", "").split(",")[0].strip().lower()
    return first not in ("", "cpu")


# Width-bucket plans (``sweeps.bucket_widths``). On a CPU a bucket's time follows its work, so the plan trades
# padding against compiles. On a GPU or TPU these models are far too small to fill the device: a step costs
# about the same until a device holds on the order of millions of parameter-runs, and a compile costs more, so
# padding is nearly free and few large buckets win. The floor (in ``sweeps.cost_fn`` units: parameters per
# run, per device) is an estimate from the models' sizes, not a GPU measurement (none was available).
_ACCELERATOR_PLAN = {"floor": 4e6, "overhead": 0.3}


def bucket_plan() -> dict:
    """``bucket_widths`` keywords for the default backend: none on a CPU, a latency floor elsewhere."""
    return {} if on_cpu() else dict(_ACCELERATOR_PLAN)


def use_cpu_cores(count: int | None = None, *, strict: bool = False) -> int:
    """Ask JAX for ``count`` CPU devices (default: ``$MNIST1D_JAX_CPU_DEVICES``, else the usable cores).

    Returns the number of CPU devices in effect. It changes nothing (and returns JAX's count, 1 by default) when
    the user chose a count themselves (``--xla_force_host_platform_device_count`` in ``$XLA_FLAGS``, or
    ``jax_num_cpu_devices`` set before this call, unless ``count`` is given explicitly) or when
    ``$JAX_PLATFORMS`` puts another backend first. With ``$JAX_PLATFORMS`` unset on an accelerator host the
    setting only shapes JAX's CPU client, which that host's programs do not use. Once JAX has initialised its
    backends the count can no longer change: then ``strict=True`` raises JAX's ``RuntimeError``, and the default
    returns the current count unchanged (so calling the CLI's ``main`` twice in one process works).
    """
    if cpu_is_not_the_backend():
        return 1
    env = os.environ.get(ENV_VAR, "").strip()
    chosen = user_cpu_device_count()
    if count is None and not env and chosen is not None:
        return chosen
    if count is None:
        if env:
            try:
                count = int(env)
            except ValueError:
                raise ValueError(f"${ENV_VAR}={env!r} is not an integer") from None
        else:
            count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if count < 1:
        raise ValueError(f"CPU device count must be >= 1, got {count}")
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:
        if strict:
            raise
        return len(jax.devices("cpu"))
    return count


def main_on_all_cores(main, *args):
    """``use_cpu_cores()`` then ``main(*args)``: what every script's ``__main__`` block runs."""
    use_cpu_cores()
    return main(*args)


__all__ = ["ENV_VAR", "bucket_plan", "cpu_is_not_the_backend", "main_on_all_cores", "on_cpu", "reduction_heavy_options",
           "use_cpu_cores", "user_cpu_device_count"]
