"""Huge MNIST-1D datasets written to disk in chunks, as memory-mappable ``.npy`` files.

`make_dataset` holds the whole dataset in memory, and two reordered copies of it on the way (24 bytes per input
value: 4·10^7 examples of length 40 need ~38 GB). `write_dataset` writes the same numbers to a folder instead,
with memory bounded by a chunk of examples plus an 8-byte index per example::

    out/x.npy        (num_train, final_seq_length)  dtype (float16, float32 or float64), standardised inputs
    out/y.npy        (num_train,)                   int64 labels 0..9
    out/x_test.npy   (num_test, final_seq_length)   dtype
    out/y_test.npy   (num_test,)                    int64
    out/t.npy        (final_seq_length,)            float64 time axis (for plotting), as `make_dataset`'s
    out/seq_permutation.npy  (final_seq_length,)    int64, only when ``config.shuffle_seq``
    out/manifest.json  config, dtype, shapes, raw mean and std, package version, seconds

The numbers are `make_dataset`'s: labels identical, inputs equal before the cast to within the rounding of the
pooled mean and std (summed in another order, they differ by an ulp at most: inputs by <= 1e-15), and after it
equal to ``make_dataset(config).x.astype(dtype)`` but for a value within ~1e-16 of a rounding boundary, which
may round to its neighbour (measured: none of 8·10^6 float16 or float32 values at 200,000 examples where the
mean differs by an ulp; at 10^6 examples the mean and std come out bitwise equal, and so does every value).

How (the steps of `make_dataset`, reordered so that no step needs the whole dataset in memory):

1. generate: `map_example_draws` makes the examples block by block (2,048 at a time, on its worker threads) in
   draw order; each block's raw float64 rows go straight into a temporary file in ``out`` (8 bytes per value)
   and only its count, sum and sum of squared deviations come back;
2. after the draws, the stream draws the train/test permutation (and the column permutation), exactly as
   `make_dataset` does; the pooled mean and population std follow from the per-block statistics;
3. write: the outputs are filled chunk by chunk in output order: the chunk's rows are gathered from the
   temporary file (in sorted order, so the reads sweep the file front to back), put back in permuted order,
   standardised, cast and written; then every file is renamed into place and the manifest written last.

A folder holds a complete dataset exactly when it holds ``manifest.json``: files are written under temporary
names and renamed at the end, the temporary files are deleted on any error or Ctrl-C, and a later call deletes
those a killed run left behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mnist1d_jax.data import transforms
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import DatasetSizeError, _template_table, _transform_block  # its recipe, same bits
from mnist1d_jax.data.legacy_stream import map_example_draws
from mnist1d_jax.data.templates import NUM_CLASSES, get_templates
from mnist1d_jax.runtime.results import atomic_write
from mnist1d_jax.runtime.version import __version__

FORMAT = "mnist1d-jax streamed dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DTYPES = ("float16", "float32", "float64")
# Examples per chunk of the write pass: about three float64 copies of a chunk live at once per thread (5 MB each
# at length 40). Measured on 1e6 examples: 4,096 costs 30 % more CPU (allocations), 131,072 15 % more (caches).
DEFAULT_CHUNK = 1 << 14
_WRITE_THREADS = 2  # the write pass's threads: as many as the generator's workers (the target machine's cores)
ARRAYS = ("x", "y", "x_test", "y_test", "t")  # and "seq_permutation" when config.shuffle_seq
_TEMP_PREFIX = ".mnist1d-stream."  # every temporary file of ours in an output folder starts with this
_LOCK = _TEMP_PREFIX + "lock"
# mkstemp creates files readable by their owner only; give the outputs the usual permissions (0666 & ~umask).
_UMASK = os.umask(0)
os.umask(_UMASK)


class StreamError(ValueError):
    """A streamed dataset that cannot be written (refused before any work: a complete dataset already there, too
    little free disk space, a bad dtype or chunk) or cannot be read (no manifest, missing or mismatched files)."""


# --------------------------------------------------------------------------------------------------------------
# arguments and sizes
# --------------------------------------------------------------------------------------------------------------
def _check_dtype(dtype) -> np.dtype:
    try:
        normalised = np.dtype(dtype)
    except TypeError:
        normalised = None
    if normalised is None or normalised.name not in DTYPES:
        raise StreamError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
    return normalised


def _check_chunk(chunk) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise StreamError(f"chunk={chunk!r} is invalid: must be a positive integer (examples per chunk)")
    return int(chunk)


def estimated_disk_bytes(config: DatasetConfig, dtype="float16") -> int:
    """Free disk space `write_dataset` needs in the output folder, in bytes: the temporary raw file (8 bytes per
    input value, deleted at the end) plus the outputs (inputs in ``dtype``, 8-byte labels, headers)."""
    n, final = config.num_samples, config.final_seq_length
    itemsize = _check_dtype(dtype).itemsize
    return 8 * n * final + itemsize * n * final + 8 * n + 16 * final + 64 * 1024


def _shapes(config: DatasetConfig, dtype: np.dtype) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
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


# --------------------------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------------------------
def _pwrite_all(fd: int, array: np.ndarray, offset: int) -> None:
    """Write the bytes of `array` at byte `offset` of `fd` (``os.pwrite`` may write less than asked).

    Plain writes, not a memory map: mapped pages would count in the process's memory until unmapped."""
    view = memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    while view.nbytes:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _reserve(fd: int, size: int) -> None:
    """Give the file its final size, reserving the disk blocks where the file system can (so a full disk fails
    here, not hours into the run)."""
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError):
        os.ftruncate(fd, size)


class _TempFile:
    """A file of ours under a temporary name in the output folder, opened for writing."""

    def __init__(self, folder: Path, name: str):
        self.fd, tmp = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{name}.", suffix=".tmp", dir=folder)
        self.path = Path(tmp)
        os.fchmod(self.fd, 0o666 & ~_UMASK)

    def close(self, sync: bool = False) -> None:
        if self.fd >= 0:
            if sync:
                os.fsync(self.fd)
            os.close(self.fd)
            self.fd = -1

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class _NpyOut(_TempFile):
    """An ``.npy`` file being written row block by row block: header first, data at its offset."""

    def __init__(self, folder: Path, name: str, shape: tuple[int, ...], dtype: np.dtype):
        super().__init__(folder, name)
        self.name, self.shape, self.dtype = name, shape, dtype
        self.row_bytes = dtype.itemsize * math.prod(shape[1:])
        with open(self.fd, "wb", closefd=False) as f:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(f, header)  # padded to 64 bytes: memory maps stay aligned
            self.offset = f.tell()
        _reserve(self.fd, self.offset + self.row_bytes * shape[0])

    def write_rows(self, first_row: int, rows: np.ndarray) -> None:
        assert rows.dtype == self.dtype and rows.shape[1:] == self.shape[1:]
        _pwrite_all(self.fd, rows, self.offset + first_row * self.row_bytes)


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (a lock file in it): two writers to one folder would mix their files,
    and with the lock held every temporary file of ours there is a leftover of a killed run."""
    try:
        import fcntl
    except ImportError:  # not on a POSIX system: no lock
        yield
        return
    path = folder / _LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StreamError(f"{folder} is being written by another write_dataset (it holds {_LOCK})") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file between our open and our lock: take the new one
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _remove_stale_temporaries(folder: Path) -> None:
    for stale in folder.glob(f"{_TEMP_PREFIX}*.tmp"):
        stale.unlink(missing_ok=True)


def _check_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise StreamError(f"{out} exists and is not a folder")
    if not out.is_dir() or overwrite:
        return
    if (out / MANIFEST).exists():
        raise StreamError(f"{out} already holds a complete streamed dataset ({MANIFEST}); pass overwrite=True "
                          "(--overwrite) to replace it")
    present = [f"{name}.npy" for name in (*ARRAYS, "seq_permutation") if (out / f"{name}.npy").exists()]
    if present:
        raise StreamError(f"{out} holds {', '.join(present)} but no {MANIFEST} (an interrupted write, or files of "
                          "someone else); pass overwrite=True (--overwrite) to replace them")


def _check_disk(out: Path, need: int) -> None:
    free = shutil.disk_usage(out).free
    if need > free:
        raise StreamError(f"{out}: writing needs about {need / 1e9:.2f} GB of free disk space (a temporary raw file "
                          f"of 8 bytes per value and the outputs), only {free / 1e9:.2f} GB are free")


# --------------------------------------------------------------------------------------------------------------
# the two passes
# --------------------------------------------------------------------------------------------------------------
def _generate_raw(config: DatasetConfig, rs: np.random.RandomState, raw: _TempFile, bar) -> tuple[float, float]:
    """Pass 1: every raw example, in draw order, into `raw` as (num_samples, final_seq_length) float64 rows.

    Returns the pooled mean and population std of all raw values (what `make_dataset` standardises with),
    combined from per-block counts, sums and sums of squared deviations from the block's mean (Chan et al.'s
    pairwise update: as accurate as a second pass over the data, without one)."""
    n, length, final = config.num_samples, config.working_length, config.final_seq_length
    per_class = n // NUM_CLASSES
    plans = (transforms.gaussian_smoothing_matrix(length), transforms.linear_resample_plan(length, final))
    table = _template_table(config.padding, length, config.max_translation)
    _reserve(raw.fd, 8 * n * final)
    counting = threading.Lock()  # tqdm's counter is not thread-safe

    def block(draws, first: int) -> tuple[int, float, float]:  # runs on map_example_draws's worker threads
        labels = np.arange(first, first + len(draws.pad_u)) // per_class  # generation is class-major
        x = _transform_block(draws, labels, config, table, plans)
        _pwrite_all(raw.fd, x, first * 8 * final)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported once, after the pass
            total = float(x.sum())
            deviations = np.subtract(x, total / x.size, out=x)
            m2 = float(np.square(deviations, out=deviations).sum())
        with counting:
            bar.update(len(x))
        return x.size, total, m2

    stats = map_example_draws(rs, n, length, config.max_translation, block)
    size = sum(count for count, _, _ in stats)
    try:
        mean = math.fsum(total for _, total, _ in stats) / size
        m2 = math.fsum(m2 for _, _, m2 in stats) + math.fsum(
            count * (total / count - mean) ** 2 for count, total, _ in stats)
        std = math.sqrt(m2 / size)
    except (OverflowError, ValueError):  # fsum of infinities
        mean = std = math.nan
    if not (math.isfinite(mean) and math.isfinite(std)):
        raise DatasetSizeError(f"{config}: the raw values overflow float64 (mean {mean}, std {std}); use smaller "
                               "scale_coeff, shear_scale or noise scales")
    if std == 0:  # as make_dataset: constant raw values cannot be standardised
        raise DatasetSizeError(f"{config}: every raw value equals {mean} (std 0), so the inputs cannot be "
                               "standardised; use a non-zero noise scale, scale_coeff or shear_scale")
    return mean, std


def _permuted_chunk(raw: np.ndarray, idx: np.ndarray, seq: np.ndarray | None, mean: float, std: float,
                    dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Output rows of raw rows `idx`: (len(idx), final_seq_length) inputs in `dtype` and (len(idx),) labels."""
    order = np.argsort(idx)
    # Sorted reads sweep the memory-mapped file front to back; then the rows go back into permuted order.
    rows = np.take(raw, idx[order], axis=0)
    x = np.empty_like(rows)
    x[order] = rows
    del rows
    if seq is not None:
        x = x[:, seq]
    # make_dataset's operations on each value (subtract the mean, divide by the std): the same bits, given the
    # same mean and std. Then float64 -> dtype in one rounding, as make_dataset(...).x.astype(dtype).
    x -= mean
    x /= std
    labels = get_templates().y[idx // (len(raw) // NUM_CLASSES)]  # generation is class-major
    return x.astype(dtype, copy=False), labels


def _write_outputs(raw: np.ndarray, perm: np.ndarray, splits, seq: np.ndarray | None, mean: float, std: float,
                   chunk: int, bar) -> None:
    """Pass 2: output row i of the dataset is raw row ``perm[i]``, standardised; `splits` lists ``(first row,
    last row + 1, x output, y output)``. Chunks run on `_WRITE_THREADS` threads (NumPy's gathers, arithmetic and
    casts and the writes release the GIL), each writing its own rows, so their order does not matter."""
    counting = threading.Lock()

    def write(a: int, b: int, start: int, x_out: _NpyOut, y_out: _NpyOut) -> None:
        x, y = _permuted_chunk(raw, perm[a:b], seq, mean, std, x_out.dtype)
        x_out.write_rows(a - start, x)
        y_out.write_rows(a - start, y)
        with counting:
            bar.update(b - a)

    pool = ThreadPoolExecutor(max_workers=_WRITE_THREADS)
    try:
        futures = [pool.submit(write, a, min(a + chunk, stop), start, x_out, y_out)
                   for start, stop, x_out, y_out in splits for a in range(start, stop, chunk)]
        for future in futures:
            future.result()
    finally:  # on an error or Ctrl-C, drop the chunks not started yet (at most two chunks are in memory)
        pool.shutdown(wait=True, cancel_futures=True)


def _progress_bar(progress: bool, total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="ex", unit_scale=True, disable=not progress, file=sys.stderr,
                dynamic_ncols=True)


def write_dataset(config: DatasetConfig | None, out: str | os.PathLike, dtype="float16", chunk: int = DEFAULT_CHUNK,
                  *, overwrite: bool = False, progress: bool = False) -> Path:
    """Write the dataset of ``make_dataset(config)`` to the folder `out` as memory-mappable ``.npy`` files.

    Files (see the module docstring): ``x.npy (num_train, final_seq_length)`` and ``x_test.npy (num_test,
    final_seq_length)`` in `dtype`, standardised like `make_dataset`'s (zero mean, unit population std over
    all examples of both splits, before the cast); ``y.npy`` / ``y_test.npy`` int64 labels; ``t.npy`` float64;
    ``seq_permutation.npy`` int64 when ``config.shuffle_seq``; ``manifest.json`` last.

    Args:
      config: the generator's knobs (None: ``DatasetConfig()``).
      out: the folder (made if needed). It also holds the temporary raw file while writing.
      dtype: of the inputs: "float16" (2 bytes per value), "float32" or "float64" (`make_dataset`'s numbers).
      chunk: examples per chunk of the write pass (default 16,384); bounds its memory (below).
      overwrite: replace a complete dataset (or stray ``x.npy`` ... files) already in `out`.
      progress: tqdm progress bars on stderr, over examples (one per pass).

    Memory: bounded by the chunk (two chunks in flight, ~26 bytes per input value each: ~34 MB at the default
    chunk and length 40) and by the generator's fixed workspace (blocks of 2,048 examples: ~50 MB), plus one
    O(N) index array of 8 bytes per example (the train/test permutation: 320 MB for 4·10^7 examples). Disk:
    `estimated_disk_bytes` (the temporary raw file takes 8 bytes per value: 12.8 GB for 4·10^7 examples of
    length 40). The write pass reads that file in random order through a memory map: fast while it fits in the
    page cache (its mapped pages then count in the process's RSS, as shared file pages that the kernel can
    reclaim), bound by the disk's random reads when it does not.

    Returns:
      `out` as a `Path`.

    Raises:
      StreamError: before any work: a complete dataset (or stray output files) in `out` and not `overwrite`,
        too little free disk space, a bad `dtype` or `chunk`, `out` not a folder, or another writer in `out`.
      DatasetSizeError: after the generation, if the values overflow float64 (as `make_dataset`).
    """
    start_time = time.perf_counter()
    config = DatasetConfig() if config is None else config
    if not isinstance(config, DatasetConfig):
        raise TypeError(f"write_dataset expects a DatasetConfig, got {type(config).__name__}")
    dtype, chunk = _check_dtype(dtype), _check_chunk(chunk)
    if not str(os.fspath(out)).strip():  # before Path(), which turns "" into the current folder
        raise StreamError("the output folder is an empty path")
    out = Path(out)
    _check_folder(out, overwrite)
    existed = out.is_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StreamError(f"{out} cannot be made: {err.strerror or err}") from None
    with _exclusive(out):
        try:
            _check_folder(out, overwrite)  # again, under the lock
            _remove_stale_temporaries(out)
            _check_disk(out, estimated_disk_bytes(config, dtype))
        except StreamError:
            if not existed:
                with contextlib.suppress(OSError):
                    (out / _LOCK).unlink(missing_ok=True)
                    out.rmdir()
            raise
        _write(config, out, dtype, chunk, progress, start_time)
    return out


def _write(config: DatasetConfig, out: Path, dtype: np.dtype, chunk: int, progress: bool, start_time: float) -> None:
    """Both passes, the renames and the manifest (`write_dataset` has checked the arguments and holds the lock)."""
    n, final = config.num_samples, config.final_seq_length
    shapes = _shapes(config, dtype)
    raw = _TempFile(out, "raw")
    outputs: dict[str, _NpyOut] = {}
    try:
        rs = np.random.RandomState(config.seed)
        with _progress_bar(progress, n, "generate") as bar:
            mean, std = _generate_raw(config, rs, raw, bar)
        generated = time.perf_counter()
        # The stream after the examples' draws, as in make_dataset: the train/test order, then the columns'.
        perm = rs.permutation(n)
        seq = rs.permutation(final) if config.shuffle_seq else None
        outputs = {name: _NpyOut(out, name, shape, dt) for name, (shape, dt) in shapes.items()}
        raw.close()
        raw_rows = np.memmap(raw.path, dtype=np.float64, mode="r", shape=(n, final))
        with _progress_bar(progress, n, "write") as bar:
            split = config.num_train
            splits = [(0, split, outputs["x"], outputs["y"]), (split, n, outputs["x_test"], outputs["y_test"])]
            _write_outputs(raw_rows, perm, splits, seq, mean, std, chunk, bar)
        del raw_rows
        raw.discard()  # before the renames: the disk space is needed no more
        outputs["t"].write_rows(0, _time_axis(config) / std)
        if seq is not None:
            outputs["seq_permutation"].write_rows(0, seq.astype(np.int64))
        for output in outputs.values():
            output.close(sync=True)  # on disk before the manifest says the folder is complete
        written = time.perf_counter()
        _publish(out, outputs)
        seconds = {"generate": generated - start_time, "write": written - generated}
        seconds["total"] = time.perf_counter() - start_time
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "numpy_version": np.__version__,
            "config": config.to_dict(),
            "fingerprint": config.fingerprint(),
            "dtype": dtype.name,
            "files": {name: {"file": f"{name}.npy", "shape": list(shape), "dtype": dt.name}
                      for name, (shape, dt) in shapes.items()},
            "raw_mean": mean,
            "raw_std": std,
            "chunk": chunk,
            "seconds": seconds,
            "examples_per_second": n / seconds["total"],
        }
        text = json.dumps(manifest, indent=1) + "\n"
        atomic_write(out / MANIFEST, lambda f: f.write(text.encode()))
        _sync_folder(out)
    finally:  # on success only the renamed files remain; on any error or Ctrl-C, no temporary file
        raw.discard()
        for output in outputs.values():
            output.discard()


def _time_axis(config: DatasetConfig) -> np.ndarray:
    """make_dataset's time axis before its division by the std: the template's, resampled 12 -> L -> final."""
    templates, length = get_templates(), config.working_length
    t = np.interp(np.linspace(0, 1, length), np.linspace(0, 1, len(templates.t)), templates.t)
    return np.interp(np.linspace(0, 1, config.final_seq_length), np.linspace(0, 1, length), t)


def _publish(out: Path, outputs: dict[str, _NpyOut]) -> None:
    """Rename the finished files into place. The old manifest goes first, so that a crash in between leaves a
    folder that does not look complete; so do old outputs this dataset does not have (``seq_permutation``)."""
    (out / MANIFEST).unlink(missing_ok=True)
    for name in (*ARRAYS, "seq_permutation"):
        if name not in outputs:
            (out / f"{name}.npy").unlink(missing_ok=True)
    _sync_folder(out)
    for name, output in outputs.items():
        os.replace(output.path, out / f"{name}.npy")


def _sync_folder(folder: Path) -> None:
    """fsync a folder, so that renames in it are on disk (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------------------
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
        dtype = _check_dtype(manifest["dtype"])
        files = manifest["files"]
    except (KeyError, TypeError, ValueError) as err:
        raise StreamError(f"{out / MANIFEST}: invalid config, dtype or file list: {err}") from err
    expected = _shapes(config, dtype)
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
