"""The on-disk format of a streamed dataset, and its reader: `read_manifest` and `load_streamed`.

A folder written by `mnist1d_jax.data.stream.write_dataset` holds::

    out/x.npy        (num_train, final_seq_length)  dtype (float16, float32 or float64), standardised inputs
    out/y.npy        (num_train,)                   int64 labels 0..9
    out/x_test.npy   (num_test, final_seq_length)   dtype
    out/y_test.npy   (num_test,)                    int64
    out/t.npy        (final_seq_length,)            float64 time axis (for plotting), as `make_dataset`'s
    out/seq_permutation.npy  (final_seq_length,)    int64, only when ``config.shuffle_seq``
    out/manifest.json  config, dtype, shapes, raw mean and std, package version, seconds

It holds a complete dataset exactly when it holds ``manifest.json``, which the writer renames into place last.
The shapes and dtypes follow from the config and the dtype alone (`array_shapes`), so the reader checks every
file against them before it hands out a memory map.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from mnist1d_jax.data.config import DatasetConfig

FORMAT = "mnist1d-jax streamed dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DTYPES = ("float16", "float32", "float64")
ARRAYS = ("x", "y", "x_test", "y_test", "t")  # and "seq_permutation" when config.shuffle_seq


class StreamError(ValueError):
    """A streamed dataset that cannot be written (refused before any work: a complete dataset already there, too
    little free disk space, a bad dtype or chunk) or cannot be read (no manifest, missing or mismatched files)."""


def check_dtype(dtype) -> np.dtype:
    """`dtype` (a name or a NumPy type) as a `np.dtype`, if it is one of `DTYPES`; else a `StreamError`."""
    try:
        normalised = np.dtype(dtype)
    except TypeError:
        normalised = None
    if normalised is None or normalised.name not in DTYPES:
        raise StreamError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
    return normalised


def array_shapes(config: DatasetConfig, dtype: np.dtype) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Array name -> ``(shape, dtype)`` of every ``.npy`` file of the dataset of `config` with inputs in `dtype`."""
    final, int64, float64 = config.final_seq_length, np.dtype(np.int64), np.dtype(np.float64)
    shapes = {
        "x": ((config.num_train, final), dtype),
        "y": ((config.num_train,), int64),
        "x_test": ((config.num_test, final), dtype),
        "y_test": ((config.num_test,), int64),
        "t": ((final,), float64),
    }
    if config.shuffle_seq:
        shapes["seq_permutation"] = ((final,), int64)
    return shapes


def read_manifest(out: str | os.PathLike) -> dict:
    """The manifest of the streamed dataset in `out` (a dict; ``config`` as `DatasetConfig.to_dict`)."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise StreamError(f"{out} holds no {MANIFEST}: not a complete streamed dataset")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StreamError(f"{path}: not readable JSON: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StreamError(f"{path}: not a manifest of an {FORMAT}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise StreamError(f"{path}: format version {manifest.get('format_version')!r}; this package reads "
                          f"{FORMAT_VERSION}")
    return manifest


def load_streamed(out: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a folder written by `write_dataset`, as read-only memory maps (nothing is read yet).

    Returns:
      ``{"x", "y", "x_test", "y_test", "t"}`` (and ``"seq_permutation"`` when the config shuffled the positions)
      -> read-only `np.memmap`, with the shapes and dtypes of `write_dataset`; the manifest is checked first
      (format, config, every file present with the shape and dtype it lists). `read_manifest` gives the rest.

    Raises:
      StreamError: no manifest, a foreign or unreadable manifest, a missing, truncated or mismatched file.
    """
    out = Path(out)
    manifest = read_manifest(out)
    try:
        config = DatasetConfig.from_dict(manifest["config"])
        dtype = check_dtype(manifest["dtype"])
        files = manifest["files"]
    except (KeyError, TypeError, ValueError) as err:
        raise StreamError(f"{out / MANIFEST}: invalid config, dtype or file list: {err}") from err
    expected = array_shapes(config, dtype)
    if not isinstance(files, dict) or set(files) != set(expected):
        raise StreamError(f"{out / MANIFEST}: lists files {sorted(files) if isinstance(files, dict) else files!r}, "
                          f"expected {sorted(expected)}")
    arrays = {}
    for name, (shape, dt) in expected.items():
        path = out / f"{name}.npy"
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise StreamError(f"{path}: not a readable .npy file ({type(err).__name__}: {err})") from err
        if array.shape != shape or array.dtype != dt:
            raise StreamError(f"{path}: {array.dtype.name} {array.shape}, the manifest says {dt.name} {shape}")
        arrays[name] = array
    return arrays
