"""Everything that depends on the machine's backend, in one place.

* `on_cpu()`: whether programs are being built for a CPU; the layers use it to pick a CPU-specific kernel
  (the convolution in ``nn.conv``), so no other module needs to know.
* `reduction_heavy_options()`: the one CPU-only XLA option a study's programs use, nothing off the CPU.
* `use_cpu_cores()`: one JAX CPU device per core.

A CPU is a single JAX device by default, whose small matrix products use the cores poorly (this project's
models are tiny). Asking JAX for one CPU device per core (``use_cpu_cores``) and splitting a many-run call's
run axis over them (``core.parallel``) runs the seeds of one vmapped call on all cores, one compiled program.
``use_cpu_cores`` must run before JAX does anything; the CLI and the scripts call it first thing.
``MNIST1D_JAX_CPU_DEVICES`` overrides the count (``1`` turns the split off).
"""

from __future__ import annotations

import os

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


def use_cpu_cores(count: int | None = None, *, strict: bool = False) -> int:
    """Ask JAX for ``count`` CPU devices (default: ``$MNIST1D_JAX_CPU_DEVICES``, else the usable cores).

    Returns the number of CPU devices in effect. Once JAX has initialised its backends the count can no
    longer change: then ``strict=True`` raises JAX's ``RuntimeError``, and the default returns the current
    count unchanged (so calling the CLI's ``main`` twice in one process works).
    """
    if count is None:
        env = os.environ.get(ENV_VAR, "").strip()
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


__all__ = ["ENV_VAR", "main_on_all_cores", "on_cpu", "reduction_heavy_options", "use_cpu_cores"]
