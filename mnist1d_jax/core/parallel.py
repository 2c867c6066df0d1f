"""The run axis of a many-run call (seeds, widths, initial values) split over the machine's devices.

On a GPU or TPU host each accelerator is a JAX device; on a CPU, ``backend.use_cpu_cores()`` makes one device
per core. A vmapped many-run program whose leading (run) axis is split over the devices is still one compiled
program: on this project's 2-core machine ten CNN seeds take 20 s instead of 38 s (XLA keeps a small program on
about one core, while two devices run half the seeds each). The run axis is padded to a multiple of the
device count by repeating the last run (computed and thrown away: at most devices - 1 extra runs).

* `run_sharding(n)`: the sharding of an n-run axis and its padded length.
* `spread_leading(tree)` / `take_leading(tree, n)`: pad and place host inputs; cut the outputs back.
* `pad_runs(tree, padded)` / `constrain_runs(tree, sharding)`: the same inside a jitted program, for run-axis
  arrays made there (e.g. initial parameters drawn in the program that trains them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def run_sharding(n_runs: int) -> tuple[NamedSharding | None, int]:
    """How to split a leading run axis of length ``n_runs`` over the default backend's devices.

    Returns ``(sharding, padded)``: a sharding of the leading axis over ``min(n_runs, devices)`` devices and
    the length the axis must be padded to (a multiple of that count), or ``(None, n_runs)`` on one device or
    inside a ``jax.default_device`` context.
    """
    if jax.config.jax_default_device is not None:
        # The caller pinned a device (``jax.default_device``, e.g. the lottery study giving each of its threads
        # its own device): keep the runs there. Splitting them would put collectives of two concurrently
        # launched programs on the same devices, which can deadlock.
        return None, n_runs
    devices = jax.devices()
    used = min(len(devices), n_runs)
    if used < 2:
        return None, n_runs
    mesh = Mesh(np.array(devices[:used]), ("runs",))
    padded = -(-n_runs // used) * used
    return NamedSharding(mesh, PartitionSpec("runs")), padded


def _leading(tree) -> int:
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError("a run axis needs at least one array")
    n = leaves[0].shape[0]
    if any(leaf.ndim == 0 or leaf.shape[0] != n for leaf in leaves):
        raise ValueError(f"every leaf needs the same leading axis (the first has {n})")
    return n


def pad_runs(tree, padded: int):
    """Pad every leaf's leading axis to ``padded`` by repeating its last entry (jit-able)."""
    n = _leading(tree)
    if padded <= n:
        return tree
    return jax.tree_util.tree_map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], padded - n, axis=0)]), tree)


def constrain_runs(tree, sharding: NamedSharding | None):
    """Inside a jitted program: ask for the leading axis of every leaf to be split by ``sharding``."""
    if sharding is None:
        return tree
    return jax.tree_util.tree_map(lambda a: jax.lax.with_sharding_constraint(a, sharding), tree)


def spread_leading(tree):
    """Pad every leaf's leading (run) axis to a multiple of the device count and split it over the devices.

    Args:
      tree: a pytree of arrays sharing a leading axis of length S (keys, initial parameters, masks, ...).
    Returns:
      ``(tree_padded, S)``; pass the padded tree to a jitted vmapped function and cut its outputs back with
      ``take_leading(out, S)``. On one device the tree comes back unchanged.
    """
    n = _leading(tree)
    sharding, padded = run_sharding(n)
    if sharding is None:
        return tree, n
    return jax.tree_util.tree_map(lambda a: jax.device_put(a, sharding), pad_runs(tree, padded)), n


def take_leading(tree, n: int):
    """The first ``n`` entries of every leaf's leading axis (undoes the padding)."""
    return jax.tree_util.tree_map(lambda a: a if a.shape[0] == n else a[:n], tree)


__all__ = ["constrain_runs", "pad_runs", "run_sharding", "spread_leading", "take_leading"]
