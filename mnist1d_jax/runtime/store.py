"""A study's partial results, kept between runs so that an interrupted study resumes where it stopped.

``Store(folder)`` keeps one file per key, ``folder/<key>.npz``: the value's arrays plus a JSON header with the
``tag`` (a JSON-able description of everything that determines the value: a value is reused only under the
same tag) and the value's non-array parts. Writes are atomic. A file that cannot be read (truncated, corrupt,
foreign) is moved aside to ``<key>.npz.damaged`` with a `StoreWarning` naming it, and the value is computed
again. ``Store(None)`` keeps nothing (a study run without resume).

With many processes (``jax.distributed``) only process 0 writes, and a stored value is reused only when every
process can read it (one collective per lookup), so that all of them compute the same things: on hosts that do
not share the output folder, a resumed study simply computes again.

Values are dicts, lists and tuples of arrays, numbers, strings and None.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mnist1d_jax.runtime.processes import all_processes, is_writer
from mnist1d_jax.runtime.results import _jsonable, atomic_write

_HEADER = "__store_header__"


class StoreWarning(UserWarning):
    """A damaged partial-result file was moved aside; its work is done again."""


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        return {"__dict__": [[str(k), _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"__list__" if isinstance(value, list) else "__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, np.ndarray) or hasattr(value, "__array__") and not isinstance(value, (int, float)):
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(value)
        return {"__array__": name}
    return _jsonable(value)


def _decode(value: Any, arrays) -> Any:
    if isinstance(value, dict):
        if "__dict__" in value:
            return {k: _decode(v, arrays) for k, v in value["__dict__"]}
        if "__list__" in value:
            return [_decode(v, arrays) for v in value["__list__"]]
        if "__tuple__" in value:
            return tuple(_decode(v, arrays) for v in value["__tuple__"])
        if "__array__" in value:
            return arrays[value["__array__"]]
    return value


class Store:
    """Partial results of one study in ``folder`` (None: nothing is kept)."""

    def __init__(self, folder: str | Path | None):
        self.folder = None if folder is None else Path(folder)

    def _path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"store key {key!r}: use a plain file name")
        return self.folder / f"{key}.npz"

    def get(self, key: str, tag: Any) -> Any | None:
        """The value saved under ``key`` with this ``tag``, or None (nothing saved, another tag, or damaged)."""
        if self.folder is None:
            return None

        value = self._read(key, tag)
        return value if all_processes(value is not None) else None

    def _read(self, key: str, tag: Any) -> Any | None:

        path = self._path(key)
        if not path.exists():
            return None
        try:
            with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as f:
                header = json.loads(str(f[_HEADER]))
                if header.get("tag") != json.loads(json.dumps(_jsonable(tag))):
                    return None
                arrays = {k: f[k] for k in f.files if k != _HEADER}
                return _decode(header["value"], arrays)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError, RuntimeError,
                NotImplementedError) as err:
            if not is_writer():
                return None
            damaged = path.with_name(path.name + ".damaged")
            path.replace(damaged)
            warnings.warn(f"{path} could not be read ({type(err).__name__}: {err}); moved aside to {damaged.name} "
                          "and computing it again", StoreWarning, stacklevel=2)
            return None

    def put(self, key: str, tag: Any, value: Any) -> None:
        """Save ``value`` under ``key`` with ``tag`` (atomically; nothing when the store keeps nothing, and
        nothing in processes other than process 0)."""

        if self.folder is None or not is_writer():
            return
        arrays: dict[str, np.ndarray] = {}
        header = {"tag": _jsonable(tag), "value": _encode(value, arrays)}
        atomic_write(self._path(key), lambda f: np.savez(f, **arrays, **{_HEADER: np.asarray(json.dumps(header))}))

    def keys(self) -> list[str]:
        """The keys saved so far."""
        if self.folder is None or not self.folder.exists():
            return []
        return sorted(p.stem for p in self.folder.glob("*.npz"))


__all__ = ["Store", "StoreWarning"]
