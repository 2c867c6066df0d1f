"""Results files: atomic JSON writes with provenance (config, versions, git commit) beside every figure."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import numpy as np

# mkstemp creates files readable by their owner only; give results the usual permissions (0666 & ~umask).
_UMASK = os.umask(0)
os.umask(_UMASK)

_PACKAGES = ("mnist1d-jax", "numpy", "scipy", "jax", "jaxlib", "flax", "optax", "matplotlib")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def devices() -> dict[str, Any] | None:
    """What JAX ran on: backend, device kind, device and process counts, and the matmul precision in effect
    (``precision.current()``: ``"float32"``, ``"tf32"``, ``"bf16"`` or ``"backend default"``); None if JAX was
    never started."""
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    try:
        devs = jax.devices()
    except RuntimeError:
        return None
    from mnist1d_jax.runtime.precision import current  # local: it imports JAX, which a data-only process never starts

    return {"backend": jax.default_backend(), "device_kind": devs[0].device_kind, "device_count": len(devs),
            "process_count": jax.process_count(), "matmul_precision": current()}


def provenance() -> dict[str, Any]:
    """Versions of Python and the numerical stack, the git commit, the machine, the devices (with the matmul
    precision) and the time. (A study's record adds the class subset it ran on: ``report.runner``.)"""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "git_commit": _git_commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "devices": devices(),
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "__array__"):  # jax arrays
        return _jsonable(np.asarray(value))
    return value


class OutputError(ValueError):
    """An output file or folder that cannot be written (one line, naming the path)."""


def check_not_a_folder(path: str | os.PathLike) -> Path:
    """Raise `OutputError` when the file `path` is to be written where a folder is."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder, not a file: move it away or choose another output")
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(file)`` on a temporary file beside `path`, then rename it over `path`.

    A crash or Ctrl-C mid-write leaves the old file (or none) under the real name, never a partial one. A
    folder at `path` is an `OutputError` before anything is written.
    """
    path = check_not_a_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write `payload` (NumPy/JAX arrays allowed) as indented JSON, atomically."""
    text = json.dumps(_jsonable(payload), indent=1) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def mean_std(values, digits: int = 1) -> str:
    """``"m ± s"`` over seeds for reports; a single value alone (a spread over one seed says nothing)."""
    v = np.asarray(values, float).ravel()
    if v.size == 0:
        return "–"
    return f"{v[0]:.{digits}f}" if v.size == 1 else f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def seeds_text(n: int) -> str:
    """``"1 seed"``, ``"5 seeds"``."""
    return f"{n} seed" if n == 1 else f"{n} seeds"
