"""JAX's persistent compilation cache: compile a program once per machine, not once per command.

Every ``mnist1d-jax`` command (and so every script and every study ``reproduce`` starts) calls
`enable_compile_cache` before it compiles anything, so a rerun of the same study (a figure tweak, a resume after
Ctrl-C, one config field changed elsewhere) loads its compiled programs instead of compiling them again.

* Where: ``$MNIST1D_JAX_COMPILE_CACHE`` if set, else ``xla/`` in the dataset cache folder (``$MNIST1D_JAX_CACHE``,
  else ``$XDG_CACHE_HOME/mnist1d-jax``, else ``~/.cache/mnist1d-jax``), bounded to `MAX_BYTES` (JAX evicts the
  least recently used entries beyond it).
* Off: ``MNIST1D_JAX_COMPILE_CACHE=off`` (or ``0``, ``none``), or the CLI's ``--no-compile-cache``.
* Library code never turns it on behind a user's back: a user who wants it in their own program calls
  ``mnist1d_jax.enable_compile_cache()`` once, first thing.

What a cached program is keyed on is JAX's business: the program itself, the JAX / jaxlib versions, the backend
and its devices (their count and kind), the compile options and the XLA flags. The precision policy
(``precision.py``) changes the traced program, so it is part of the key too. A folder that cannot be used (not
creatable, not writable, a file in its place) costs a one-line `CompileCacheWarning` and the command compiles as
without the cache; an unreadable entry is recompiled (JAX's own fallback).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import jax

ENV_VAR = "MNIST1D_JAX_COMPILE_CACHE"
OFF = ("0", "off", "none", "false", "no")
MAX_BYTES = 2 * 1024**3  # 2 GiB: hundreds of this project's programs (each ~0.1-5 MB)
MIN_COMPILE_SECONDS = 0.2  # cache programs that took at least this long to compile (JAX's default is 1 s)


class CompileCacheWarning(UserWarning):
    """The compilation cache folder could not be used; the command compiles without it."""


def default_folder() -> Path:
    """``$MNIST1D_JAX_COMPILE_CACHE``, else ``xla/`` in the dataset cache folder (the rule of
    ``data.io.cache_dir``: ``$MNIST1D_JAX_CACHE``, else ``$XDG_CACHE_HOME/mnist1d-jax``, else
    ``~/.cache/mnist1d-jax``)."""
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen and chosen.lower() not in OFF:
        return Path(chosen).expanduser()
    if os.environ.get("MNIST1D_JAX_CACHE"):
        return Path(os.environ["MNIST1D_JAX_CACHE"]).expanduser() / "xla"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mnist1d-jax" / "xla"


def disabled_by_environment() -> bool:
    return os.environ.get(ENV_VAR, "").strip().lower() in OFF


def _usable(folder: Path) -> str | None:
    """None when `folder` can hold the cache, else why not (one line)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return f"{type(err).__name__}: {err.strerror or err}"
    return None


def enable_compile_cache(folder: str | os.PathLike | None = None, *, max_bytes: int = MAX_BYTES) -> Path | None:
    """Turn JAX's persistent compilation cache on for this process, in `folder` (default `default_folder`).

    Call it before anything is compiled. Returns the folder, or None when the cache stays off: switched off by
    ``$MNIST1D_JAX_COMPILE_CACHE`` (with no `folder` given), or a folder that cannot be used (a one-line
    `CompileCacheWarning`; nothing fails).
    """
    if folder is None and disabled_by_environment():
        return None
    path = Path(folder).expanduser() if folder is not None else default_folder()
    why = _usable(path)
    if why is not None:
        warnings.warn(f"compilation cache {path} cannot be used ({why}); compiling without it",
                      CompileCacheWarning, stacklevel=2)
        return None
    try:  # JAX bounds the folder's size only with filelock installed (a dependency of ours); else unbounded
        import filelock  # noqa: F401
    except ImportError:
        max_bytes = -1
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_compilation_cache_max_size", int(max_bytes))
    return path


__all__ = ["ENV_VAR", "MAX_BYTES", "CompileCacheWarning", "default_folder", "disabled_by_environment",
           "enable_compile_cache"]
