"""Spreading independent runs (seeds) over the machine's devices.

On a GPU or TPU host each accelerator is a JAX device, and a vmapped many-seed program can be split along
its seed axis across them. A CPU is a single JAX device by default, whose small matrix products use the
cores poorly (this project's models are tiny: 25-channel convolutions, batch 100). Asking JAX for one CPU
device per core (``use_cpu_cores``) and splitting the seed axis over them runs the seeds of one vmapped call
on all cores, one compiled program, about twice as fast on two cores for ten CNN seeds (measured: 38 s ->
20 s, ``scripts/speed.py --only train``). Each seed's numbers do not depend on how the seeds are split.

``use_cpu_cores`` must run before JAX does anything (it sets ``jax_num_cpu_devices``); the CLI and the
scripts call it first thing, except the lottery study's (``SINGLE_DEVICE_COMMANDS`` in ``cli.py``).
``MNIST1D_JAX_CPU_DEVICES`` overrides the count (``1`` turns the split off).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def seed_sharding(n_seeds: int) -> tuple[NamedSharding | None, int]:
    """How to split a leading seed axis of length ``n_seeds`` over the default backend's devices.

    Returns ``(sharding, padded)``: a sharding of the leading axis over ``min(n_seeds, devices)`` devices and
    the length the axis must be padded to (a multiple of that count), or ``(None, n_seeds)`` on one device or
    inside a ``jax.default_device`` context.
    """
    if jax.config.jax_default_device is not None:
        # The caller pinned a device (``jax.default_device``, e.g. ``run_parallel`` giving each of its threads
        # its own device): keep the runs there. Splitting them would put collectives of two concurrently
        # launched programs on the same devices, which can deadlock.
        return None, n_seeds
    devices = jax.devices()
    used = min(len(devices), n_seeds)
    if used < 2:
        return None, n_seeds
    mesh = Mesh(np.array(devices[:used]), ("seeds",))
    padded = -(-n_seeds // used) * used
    return NamedSharding(mesh, PartitionSpec("seeds")), padded


def spread_leading(tree):
    """Pad every leaf's leading (run) axis to a multiple of the device count and split it over the devices.

    Args:
      tree: a pytree of arrays sharing a leading axis of length S (keys, initial parameters, masks, ...).
    Returns:
      ``(tree_padded, S)``; pass the padded tree to a jitted vmapped function and cut its outputs back with
      ``take_leading(out, S)``. Padding repeats the last run (computed and thrown away: at most devices - 1
      extra runs, cheaper than leaving cores idle). On one device the tree comes back unchanged.
    """
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError("spread_leading needs at least one array")
    n = leaves[0].shape[0]
    if any(leaf.ndim == 0 or leaf.shape[0] != n for leaf in leaves):
        raise ValueError(f"every leaf needs the same leading axis (the first has {n})")
    sharding, padded = seed_sharding(n)
    if sharding is None:
        return tree, n

    def pad(a):
        if padded > n:
            a = jax.numpy.concatenate([a, jax.numpy.repeat(a[-1:], padded - n, axis=0)])
        return jax.device_put(a, sharding)

    return jax.tree_util.tree_map(pad, tree), n


# Compile options for one-off setup programs (initial parameters for many seeds): they run once, so their
# compile time is all their cost, and jax.random's bit generator takes seconds to optimise at LLVM's default
# level (measured: 4.5 s for ten seeds of a two-layer init; 0.5 s without the passes). Not for hot loops:
# there the same option makes the run ~10x slower.
SETUP_COMPILE_OPTIONS = {"xla_backend_optimization_level": 0}


def jit_setup(fn):
    """``jax.jit(fn)`` compiled without LLVM's optimisation passes: for setup code run once (inits)."""
    return jax.jit(fn, compiler_options=SETUP_COMPILE_OPTIONS)


def take_leading(tree, n: int):
    """The first ``n`` entries of every leaf's leading axis (undoes ``spread_leading``'s padding)."""
    return jax.tree_util.tree_map(lambda a: a if a.shape[0] == n else a[:n], tree)


__all__ = ["SETUP_COMPILE_OPTIONS", "jit_setup", "seed_sharding", "spread_leading", "take_leading"]
