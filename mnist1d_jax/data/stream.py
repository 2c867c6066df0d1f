"""Huge MNIST-1D datasets written to disk in chunks, as memory-mappable ``.npy`` files: `write_dataset`.

`make_dataset` holds the whole dataset in memory, and two reordered copies of it on the way (24 bytes per input
value: 4·10^7 examples of length 40 need ~38 GB). `write_dataset` writes the same numbers to a folder instead
(``x.npy``, ``y.npy``, ``x_test.npy``, ``y_test.npy``, ``t.npy``, ``manifest.json``: the layout and its reader
`load_streamed` are in `mnist1d_jax.data.stream_format`), with memory bounded by a chunk of examples plus an
8-byte index per example.

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
those a killed run left behind (the file plumbing: `mnist1d_jax.data.stream_files`).

It stays one module (a little over 300 lines) because the two passes share the block statistics, the
permutations and the output files: what is left here is the writer alone, read top to bottom.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mnist1d_jax.data import transforms
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import DatasetSizeError, _template_table, _transform_block  # its recipe, same bits
from mnist1d_jax.data.legacy_stream import map_example_draws
from mnist1d_jax.data.stream_files import (
    LOCK,
    NpyOut,
    TempFile,
    check_disk,
    check_folder,
    exclusive,
    publish,
    pwrite_all,
    remove_stale_temporaries,
    reserve,
    sync_folder,
)
from mnist1d_jax.data.stream_format import (
    ARRAYS,
    DTYPES,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    StreamError,
    array_shapes,
    check_dtype,
    load_streamed,
    read_manifest,
)
from mnist1d_jax.data.templates import NUM_CLASSES, get_templates
from mnist1d_jax.runtime.results import atomic_write
from mnist1d_jax.runtime.version import __version__

__all__ = ["ARRAYS", "DEFAULT_CHUNK", "DTYPES", "FORMAT", "FORMAT_VERSION", "MANIFEST", "StreamError",
           "estimated_disk_bytes", "load_streamed", "read_manifest", "write_dataset"]

# Examples per chunk of the write pass: about three float64 copies of a chunk live at once per thread (5 MB each
# at length 40). Measured on 1e6 examples: 4,096 costs 30 % more CPU (allocations), 131,072 15 % more (caches).
DEFAULT_CHUNK = 1 << 14
_WRITE_THREADS = 2  # the write pass's threads: as many as the generator's workers (the target machine's cores)


def _check_chunk(chunk) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise StreamError(f"chunk={chunk!r} is invalid: must be a positive integer (examples per chunk)")
    return int(chunk)


def estimated_disk_bytes(config: DatasetConfig, dtype="float16") -> int:
    """Free disk space `write_dataset` needs in the output folder, in bytes: the temporary raw file (8 bytes per
    input value, deleted at the end) plus the outputs (inputs in ``dtype``, 8-byte labels, headers)."""
    n, final = config.num_samples, config.final_seq_length
    itemsize = check_dtype(dtype).itemsize
    return 8 * n * final + itemsize * n * final + 8 * n + 16 * final + 64 * 1024


# --------------------------------------------------------------------------------------------------------------
# the two passes
# --------------------------------------------------------------------------------------------------------------
def _generate_raw(config: DatasetConfig, rs: np.random.RandomState, raw: TempFile, bar) -> tuple[float, float]:
    """Pass 1: every raw example, in draw order, into `raw` as (num_samples, final_seq_length) float64 rows.

    Returns the pooled mean and population std of all raw values (what `make_dataset` standardises with),
    combined from per-block counts, sums and sums of squared deviations from the block's mean (Chan et al.'s
    pairwise update: as accurate as a second pass over the data, without one)."""
    n, length, final = config.num_samples, config.working_length, config.final_seq_length
    per_class = n // NUM_CLASSES
    plans = (transforms.gaussian_smoothing_matrix(length), transforms.linear_resample_plan(length, final))
    table = _template_table(config.padding, length, config.max_translation)
    reserve(raw.fd, 8 * n * final)
    counting = threading.Lock()  # tqdm's counter is not thread-safe

    def block(draws, first: int) -> tuple[int, float, float]:  # runs on map_example_draws's worker threads
        labels = np.arange(first, first + len(draws.pad_u)) // per_class  # generation is class-major
        x = _transform_block(draws, labels, config, table, plans)
        pwrite_all(raw.fd, x, first * 8 * final)
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

    def write(a: int, b: int, start: int, x_out: NpyOut, y_out: NpyOut) -> None:
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
    """A tqdm bar over `total` examples on stderr (a silent one unless `progress`)."""
    # local: tqdm.auto takes ~0.1 s to import (it probes for a notebook); a reader of streamed data never needs it
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="ex", unit_scale=True, disable=not progress, file=sys.stderr,
                dynamic_ncols=True)


def write_dataset(config: DatasetConfig | None, out: str | os.PathLike, dtype="float16", chunk: int = DEFAULT_CHUNK,
                  *, overwrite: bool = False, progress: bool = False) -> Path:
    """Write the dataset of ``make_dataset(config)`` to the folder `out` as memory-mappable ``.npy`` files.

    Files (the layout: `mnist1d_jax.data.stream_format`): ``x.npy (num_train, final_seq_length)`` and
    ``x_test.npy (num_test, final_seq_length)`` in `dtype`, standardised like `make_dataset`'s (zero mean, unit
    population std over all examples of both splits, before the cast); ``y.npy`` / ``y_test.npy`` int64 labels;
    ``t.npy`` float64; ``seq_permutation.npy`` int64 when ``config.shuffle_seq``; ``manifest.json`` last.

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
    dtype, chunk = check_dtype(dtype), _check_chunk(chunk)
    if not str(os.fspath(out)).strip():  # before Path(), which turns "" into the current folder
        raise StreamError("the output folder is an empty path")
    out = Path(out)
    check_folder(out, overwrite)
    existed = out.is_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StreamError(f"{out} cannot be made: {err.strerror or err}") from None
    with exclusive(out):
        try:
            check_folder(out, overwrite)  # again, under the lock
            remove_stale_temporaries(out)
            check_disk(out, estimated_disk_bytes(config, dtype))
        except StreamError:
            if not existed:
                with contextlib.suppress(OSError):
                    (out / LOCK).unlink(missing_ok=True)
                    out.rmdir()
            raise
        _write(config, out, dtype, chunk, progress, start_time)
    return out


def _write(config: DatasetConfig, out: Path, dtype: np.dtype, chunk: int, progress: bool, start_time: float) -> None:
    """Both passes, the renames and the manifest (`write_dataset` has checked the arguments and holds the lock)."""
    n, final = config.num_samples, config.final_seq_length
    shapes = array_shapes(config, dtype)
    raw = TempFile(out, "raw")
    outputs: dict[str, NpyOut] = {}
    try:
        rs = np.random.RandomState(config.seed)
        with _progress_bar(progress, n, "generate") as bar:
            mean, std = _generate_raw(config, rs, raw, bar)
        generated = time.perf_counter()
        # The stream after the examples' draws, as in make_dataset: the train/test order, then the columns'.
        perm = rs.permutation(n)
        seq = rs.permutation(final) if config.shuffle_seq else None
        outputs = {name: NpyOut(out, name, shape, dt) for name, (shape, dt) in shapes.items()}
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
        publish(out, outputs)
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
        sync_folder(out)
    finally:  # on success only the renamed files remain; on any error or Ctrl-C, no temporary file
        raw.discard()
        for output in outputs.values():
            output.discard()


def _time_axis(config: DatasetConfig) -> np.ndarray:
    """make_dataset's time axis before its division by the std: the template's, resampled 12 -> L -> final."""
    templates, length = get_templates(), config.working_length
    t = np.interp(np.linspace(0, 1, length), np.linspace(0, 1, len(templates.t)), templates.t)
    return np.interp(np.linspace(0, 1, config.final_seq_length), np.linspace(0, 1, length), t)
