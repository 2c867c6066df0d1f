"""The file plumbing of the streamed writer (`mnist1d_jax.data.stream`): temporary files, the folder lock, the
checks made before any work, and publishing the finished files.

Every file the writer makes starts under a temporary name in the output folder (`TEMP_PREFIX`) and is renamed
into place only when the whole dataset is on disk, the manifest last; with the folder's lock held (`exclusive`),
a temporary file of ours there is a leftover of a killed run and may be deleted.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mnist1d_jax.data.stream_format import ARRAYS, MANIFEST, StreamError

try:
    import fcntl
except ImportError:  # not a POSIX system: folders are not locked
    fcntl = None

TEMP_PREFIX = ".mnist1d-stream."  # every temporary file of ours in an output folder starts with this
LOCK = TEMP_PREFIX + "lock"
# mkstemp creates files readable by their owner only; give the outputs the usual permissions (0666 & ~umask).
_UMASK = os.umask(0)
os.umask(_UMASK)


def pwrite_all(fd: int, array: np.ndarray, offset: int) -> None:
    """Write the bytes of `array` at byte `offset` of `fd` (``os.pwrite`` may write less than asked).

    Plain writes, not a memory map: mapped pages would count in the process's memory until unmapped."""
    view = memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    while view.nbytes:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def reserve(fd: int, size: int) -> None:
    """Give the file its final size in bytes, reserving the disk blocks where the file system can (so a full
    disk fails here, not hours into the run)."""
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError):
        os.ftruncate(fd, size)


class TempFile:
    """A file of ours under a temporary name in the output folder, opened for writing."""

    def __init__(self, folder: Path, name: str):
        self.fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name}.", suffix=".tmp", dir=folder)
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


class NpyOut(TempFile):
    """An ``.npy`` file being written row block by row block: header first, data at its offset."""

    def __init__(self, folder: Path, name: str, shape: tuple[int, ...], dtype: np.dtype):
        super().__init__(folder, name)
        self.name, self.shape, self.dtype = name, shape, dtype
        self.row_bytes = dtype.itemsize * math.prod(shape[1:])
        with open(self.fd, "wb", closefd=False) as f:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(f, header)  # padded to 64 bytes: memory maps stay aligned
            self.offset = f.tell()
        reserve(self.fd, self.offset + self.row_bytes * shape[0])

    def write_rows(self, first_row: int, rows: np.ndarray) -> None:
        """Write `rows` ``(R, *shape[1:])`` in the file's dtype as rows ``first_row .. first_row + R - 1``."""
        assert rows.dtype == self.dtype and rows.shape[1:] == self.shape[1:]
        pwrite_all(self.fd, rows, self.offset + first_row * self.row_bytes)


@contextlib.contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (a lock file in it): two writers to one folder would mix their files,
    and with the lock held every temporary file of ours there is a leftover of a killed run."""
    if fcntl is None:
        yield
        return
    path = folder / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StreamError(f"{folder} is being written by another write_dataset (it holds {LOCK})") from None
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


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files a killed run left in `folder` (call it with the folder's lock held)."""
    for stale in folder.glob(f"{TEMP_PREFIX}*.tmp"):
        stale.unlink(missing_ok=True)


def check_folder(out: Path, overwrite: bool) -> None:
    """Refuse `out` if it is a file, or (unless `overwrite`) if it holds a dataset or stray output files."""
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


def check_disk(out: Path, need: int) -> None:
    """Refuse `out` if its file system has fewer than `need` bytes free."""
    free = shutil.disk_usage(out).free
    if need > free:
        raise StreamError(f"{out}: writing needs about {need / 1e9:.2f} GB of free disk space (a temporary raw file "
                          f"of 8 bytes per value and the outputs), only {free / 1e9:.2f} GB are free")


def publish(out: Path, outputs: dict[str, NpyOut]) -> None:
    """Rename the finished files into place. The old manifest goes first, so that a crash in between leaves a
    folder that does not look complete; so do old outputs this dataset does not have (``seq_permutation``)."""
    (out / MANIFEST).unlink(missing_ok=True)
    for name in (*ARRAYS, "seq_permutation"):
        if name not in outputs:
            (out / f"{name}.npy").unlink(missing_ok=True)
    sync_folder(out)
    for name, output in outputs.items():
        os.replace(output.path, out / f"{name}.npy")


def sync_folder(folder: Path) -> None:
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
