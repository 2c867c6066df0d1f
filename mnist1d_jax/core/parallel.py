"""The run axis of a many-run call (seeds, widths, initial values) split over every device of every process.

On a GPU or TPU host each accelerator is a JAX device; on a CPU, ``backend.use_cpu_cores()`` makes one device
per core; after ``jax.distributed.initialize()`` the devices of every process (host) form one global set. A
vmapped many-run program whose leading (run) axis is split over the devices is still one compiled program: on
this project's 2-core machine ten CNN seeds take 20 s instead of 38 s (XLA keeps a small program on about one
core, while two devices run half the seeds each). The run axis is padded to a multiple of the device count by
repeating the last run (computed and thrown away).

Many processes (multi-controller SPMD): every process runs the same code on the same host inputs; the inputs
become global arrays (each process places the shards its devices own, ``jax.make_array_from_callback``), the
run axis is padded to *all* global devices, and the results are gathered so that every process holds all of
them (``take_leading``). Only process 0 writes files (``runtime.processes.is_writer``, re-exported here).

* `run_sharding(n)`: the sharding of an n-run axis and its padded length.
* `spread_leading(tree)` / `take_leading(tree, n)`: place host inputs; bring the first ``n`` runs back.
* `replicate(tree)`: host inputs every run shares (data), as arrays every process can feed to a program.
* `pad_runs(tree, padded)` / `constrain_runs(tree, sharding)`: the same inside a jitted program, for run-axis
  arrays made there (e.g. initial parameters drawn in the program that trains them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mnist1d_jax.runtime.processes import all_processes, is_writer, many_processes


def _mesh(devices) -> Mesh:
    return Mesh(np.array(devices), ("runs",))


def run_sharding(n_runs: int) -> tuple[NamedSharding | None, int]:
    """How to split a leading run axis of length ``n_runs`` over the devices.

    Returns ``(sharding, padded)``: a sharding of the leading axis over the devices used and the length the
    axis must be padded to (a multiple of their count), or ``(None, n_runs)`` on one device or inside a
    ``jax.default_device`` context. One process uses ``min(n_runs, devices)`` devices; many processes use every
    global device, so that every process takes part in the program.
    """
    if jax.config.jax_default_device is not None and not many_processes():
        # The caller pinned a device (``jax.default_device``, e.g. to run programs side by side on threads): keep
        # the runs there. Splitting them would put collectives of two concurrently launched programs on the same
        # devices, which can deadlock.
        return None, n_runs
    devices = jax.devices()
    used = len(devices) if many_processes() else min(len(devices), n_runs)
    if used < 2:
        return None, n_runs
    padded = -(-n_runs // used) * used
    return NamedSharding(_mesh(devices[:used]), PartitionSpec("runs")), padded


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


def _is_key(a) -> bool:
    return hasattr(a, "dtype") and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)


def _global(a, sharding: NamedSharding):
    """A host value (the same on every process) as a global array with ``sharding``: each process places the
    shards its own devices hold (typed keys travel as their raw data)."""
    if _is_key(a):
        return jax.random.wrap_key_data(_global(jax.random.key_data(a), sharding), impl=jax.random.key_impl(a))
    host = np.asarray(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def spread_leading(tree):
    """Pad every leaf's leading (run) axis to a multiple of the device count and split it over the devices.

    Args:
      tree: a pytree of arrays sharing a leading axis of length S (keys, initial parameters, masks, ...), the
        same in every process.
    Returns:
      ``(tree_padded, S)``; pass the padded tree to a jitted vmapped function and bring its outputs back with
      ``take_leading(out, S)``. On one device the tree comes back unchanged.
    """
    n = _leading(tree)
    sharding, padded = run_sharding(n)
    if sharding is None:
        return tree, n
    padded_tree = pad_runs(tree, padded)
    if many_processes():
        return jax.tree_util.tree_map(lambda a: _global(a, sharding), padded_tree), n
    return jax.tree_util.tree_map(lambda a: jax.device_put(a, sharding), padded_tree), n


def replicate(tree):
    """Inputs every run shares (data arrays), placed so that a program of global arrays can take them: as they
    are with one process, replicated global arrays with many."""
    if not many_processes():
        return tree
    sharding = NamedSharding(_mesh(jax.devices()), PartitionSpec())
    return jax.tree_util.tree_map(lambda a: _global(a, sharding) if hasattr(a, "shape") else a, tree)


def take_leading(tree, n: int):
    """The first ``n`` entries of every leaf's leading axis (undoes the padding). With many processes the
    results are first gathered, so every process holds all of them (as NumPy arrays)."""
    if many_processes():
        from jax.experimental import multihost_utils

        keys = {id(a) for a in jax.tree_util.tree_leaves(tree) if _is_key(a)}
        if keys:
            raise ValueError("take_leading cannot gather typed keys across processes: return their key_data")
        tree = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree_util.tree_map(lambda a: a if a.shape[0] == n else a[:n], tree)


__all__ = ["all_processes", "constrain_runs", "is_writer", "many_processes", "pad_runs", "replicate", "run_sharding",
           "spread_leading", "take_leading"]
