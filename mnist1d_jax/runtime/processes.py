"""Which process this is, in a multi-controller (``jax.distributed``) run: every process runs the same code,
only process 0 writes files, and a branch that depends on a file is taken by every process or by none.

Without ``jax.distributed`` there is one process, which writes.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils


def many_processes() -> bool:
    """True after ``jax.distributed.initialize()`` with more than one process (without it, no backend is
    started by asking)."""
    return jax.distributed.is_initialized() and jax.process_count() > 1


def is_writer() -> bool:
    """Whether this process writes files: process 0 (the only process without ``jax.distributed``)."""
    return not many_processes() or jax.process_index() == 0


def all_processes(flag: bool) -> bool:
    """True when ``flag`` is true in every process: one small collective with many processes, so that every
    process takes the same branch (e.g. resume a stored result only if every process can read it)."""
    if not many_processes():
        return bool(flag)

    return bool(np.all(multihost_utils.process_allgather(np.array([bool(flag)]))))


__all__ = ["all_processes", "is_writer", "many_processes"]
