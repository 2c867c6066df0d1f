"""Safe dataset files and the dataset cache.

Files are plain ``.npz`` archives (never pickles: loading one cannot run code) holding the arrays plus a JSON
header with the config, the statistics and a SHA-256 of the arrays and the header. Writes are atomic (a temporary
file, then a rename), so a crash never leaves a half-written file under the real name. A truncated, corrupt or
foreign file raises a `DatasetFileError` naming the file; the cache regenerates such a file with a `CacheWarning`,
never silently.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np

from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import Dataset, make_dataset
from mnist1d_jax.data.templates import Templates
from mnist1d_jax.runtime.results import atomic_write
from mnist1d_jax.runtime.version import __version__

FORMAT = "mnist1d-jax dataset"
FORMAT_VERSION = 2  # 2: the SHA-256 covers the header (config, statistics) too; 1 (arrays only) is still read
CACHE_ENV = "MNIST1D_JAX_CACHE"
_HEADER_KEY = "__header__"
_REQUIRED = ("x", "y", "x_test", "y_test", "t", "templates_x", "templates_t", "templates_y")


class DatasetFileError(ValueError):
    """A dataset file that cannot be trusted: truncated, corrupt, foreign, or not matching its hash."""


class CacheWarning(UserWarning):
    """A cached dataset file was unusable and has been regenerated."""


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes, in sorted key order."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _file_sha256(arrays: dict[str, np.ndarray], header: dict) -> str:
    """SHA-256 over the arrays and every header field but the digest itself (format version 2)."""
    h = hashlib.sha256(arrays_sha256(arrays).encode())
    h.update(json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True).encode())
    return h.hexdigest()


def _non_finite(arrays: dict[str, np.ndarray]) -> list[str]:
    """Names of the floating-point arrays holding NaN or infinity."""
    return [k for k, a in arrays.items() if np.issubdtype(np.asarray(a).dtype, np.floating)
            and not np.isfinite(a).all()]


def save_dataset(dataset: Dataset, path: str | os.PathLike) -> Path:
    """Write `dataset` to an ``.npz`` file atomically; returns the path.

    Raises:
      ValueError: an array holds NaN or infinity (a dataset that would train on garbage is never written).
    """
    path = Path(path)
    arrays = dataset.arrays()
    bad = _non_finite(arrays)
    if bad:
        raise ValueError(f"{path}: not written: arrays {bad} hold NaN or infinite values")
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config": dataset.config.to_dict(),
        "raw_mean": dataset.raw_mean,
        "raw_std": dataset.raw_std,
    }
    header["sha256"] = _file_sha256(arrays, header)
    payload = arrays | {_HEADER_KEY: np.array(json.dumps(header, sort_keys=True))}
    atomic_write(path, lambda f: np.savez(f, **payload))
    return path


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Read a file written by `save_dataset`, checking its format, completeness and SHA-256.

    Raises:
      FileNotFoundError: no such file.
      DatasetFileError: the file is truncated, corrupt, from another tool, fails its hash, or holds NaN or
        infinite values.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no dataset file at {path}")
    try:
        # Read the bytes ourselves: np.load leaks its handle when the archive is corrupt.
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as npz:
            contents = {key: npz[key] for key in npz.files}
    except Exception as err:  # noqa: BLE001  every way a zip can be broken (zlib, zipfile, numpy's own errors)
        raise DatasetFileError(f"{path}: not a readable .npz archive (truncated or corrupt?): "
                               f"{type(err).__name__}: {err}") from err
    if _HEADER_KEY not in contents:
        raise DatasetFileError(f"{path}: no mnist1d-jax header; this .npz was not written by save_dataset")
    try:
        header = json.loads(str(contents.pop(_HEADER_KEY)))
    except json.JSONDecodeError as err:
        raise DatasetFileError(f"{path}: the header is not valid JSON: {err}") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DatasetFileError(f"{path}: header format {header!r:.80} is not {FORMAT!r}")
    version = header.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise DatasetFileError(f"{path}: file format version {version!r}; this package reads 1 and {FORMAT_VERSION}")
    missing = [key for key in _REQUIRED if key not in contents]
    if missing:
        raise DatasetFileError(f"{path}: arrays {missing} are missing")
    digest = arrays_sha256(contents) if version == 1 else _file_sha256(contents, header)
    if digest != header.get("sha256"):
        what = "the arrays" if version == 1 else "the arrays and the header"
        raise DatasetFileError(f"{path}: SHA-256 of {what} is {digest}, the header says {header.get('sha256')}")
    bad = _non_finite(contents)
    if bad:
        raise DatasetFileError(f"{path}: arrays {bad} hold NaN or infinite values")
    try:
        config = DatasetConfig.from_dict(header["config"])
        raw_mean, raw_std = float(header["raw_mean"]), float(header["raw_std"])
    except (ValueError, TypeError, KeyError) as err:
        raise DatasetFileError(f"{path}: the stored config or statistics are invalid: {err}") from err
    return Dataset(
        x=contents["x"],
        y=contents["y"],
        x_test=contents["x_test"],
        y_test=contents["y_test"],
        t=contents["t"],
        templates=Templates(x=contents["templates_x"], t=contents["templates_t"], y=contents["templates_y"]),
        config=config,
        raw_mean=raw_mean,
        raw_std=raw_std,
        seq_permutation=contents.get("seq_permutation"),
    )


def cache_dir() -> Path:
    """Where cached datasets live: ``$MNIST1D_JAX_CACHE``, else ``$XDG_CACHE_HOME/mnist1d-jax``, else
    ``~/.cache/mnist1d-jax``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mnist1d-jax"


def cache_path(config: DatasetConfig) -> Path:
    return cache_dir() / f"mnist1d-{config.fingerprint()}.npz"


def get_dataset(config: DatasetConfig | None = None, *, cache: bool = True) -> Dataset:
    """The dataset for `config` (default: the paper's), generated once and then read from the cache.

    An unusable cache file (truncated, corrupt, foreign, or holding another config) is regenerated with a
    `CacheWarning` that names it.
    """
    config = DatasetConfig() if config is None else config
    if not cache:
        return make_dataset(config)
    path = cache_path(config)
    if path.exists():
        try:
            dataset = load_dataset(path)
            if dataset.config == config:
                return dataset
            problem = f"it holds another config ({dataset.config})"
        except DatasetFileError as err:
            problem = str(err)
        warnings.warn(f"regenerating the cached dataset {path}: {problem}", CacheWarning, stacklevel=2)
    dataset = make_dataset(config)
    save_dataset(dataset, path)
    return dataset
