"""What depends on the machine's backend: the CPU's device count (one JAX device per core).

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


__all__ = ["ENV_VAR", "main_on_all_cores", "use_cpu_cores"]
