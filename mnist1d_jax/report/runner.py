"""The one study protocol and its runner.

A study is a module of ``mnist1d_jax.studies`` with

* ``NAME`` (its files' stem), ``TITLE``, ``ORIGINAL_MINUTES`` (the original code's runtime here, or None);
* ``Config``: a validated frozen dataclass whose defaults are the paper's protocol; ``QUICK``: a tiny config
  that runs every stage in seconds (tests, ``reproduce --quick``); ``PAPER_SEEDS``: the field changes that
  give the paper's own run counts (``reproduce --seeds paper``);
* ``run(config, ctx) -> record``: the computation, no file I/O (partial results go through ``ctx.store``,
  progress through ``ctx.bar``); arrays too large for JSON go in ``record["arrays"]``;
* ``report_rows(record) -> [{"quantity", "paper", "ours"[, "why"]}]`` and ``draw(record, out) -> [paths]``.

`run_study` does the rest: it checks the output folder before any work, runs the study under the matmul
precision policy (``runtime.precision``: float32 unless ``set_precision``, the CLI's ``--precision`` or
``$MNIST1D_JAX_PRECISION`` say otherwise) on the class subset it is given (``classes=``, an explicit argument:
all ten digits unless the caller, e.g. the CLI's ``--classes``, names others; the study reads it from
``ctx.classes``; a study that cannot run on a subset says so in ``REFUSES_CLASS_SUBSET`` and is refused before
any work), resumes from the study's store,
writes the record (JSON with config, seeds, versions, devices, the precision and the kept / held-out digits;
arrays beside it as ``<NAME>.npz``) and draws the figures from it; a figure and its JSON appear together or not
at all.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from mnist1d_jax.data.classes import (
    ALL_CLASSES,
    classes_text,
    held_out_classes,
    is_subset,
    refuse_class_subset,
    resolve_classes,
)
from mnist1d_jax.runtime.precision import resolve, use_precision
from mnist1d_jax.runtime.processes import is_writer
from mnist1d_jax.runtime.results import OutputError, atomic_write, check_not_a_folder, provenance, read_json, write_json
from mnist1d_jax.runtime.store import Store
from mnist1d_jax.studies import ALL


@dataclasses.dataclass
class Context:
    """What a study's ``run`` gets besides its config: the store of partial results, progress output, and the
    digits it trains on (``classes``, sorted; all ten by default: ``data.classes``)."""

    store: Store = dataclasses.field(default_factory=lambda: Store(None))
    progress: bool = False
    classes: tuple[int, ...] = ALL_CLASSES

    def bar(self, total: int, desc: str, unit: str = "it"):
        """A progress bar (tqdm; silent unless ``progress``)."""
        return tqdm(total=total, desc=desc, unit=unit, disable=not self.progress, file=sys.stderr)

    def log(self, message: str) -> None:
        if self.progress:
            tqdm.write(message, file=sys.stderr)


LEDGER = "runner_time"  # the store key of the time spent on a study by every process so far


class TimedStore(Store):
    """A study's store that also keeps the wall and CPU seconds spent on the study so far, this process's and
    every earlier one's (saved beside each partial result), so that a resumed study reports its whole runtime
    rather than only its last process's."""

    def __init__(self, folder: str | Path | None):
        super().__init__(folder)
        self._start = (time.perf_counter(), time.process_time())
        self.earlier = self.get(LEDGER, LEDGER) or {"wall_s": 0.0, "cpu_s": 0.0}

    def spent(self) -> dict[str, float]:
        """``{"wall_s", "cpu_s"}``: the seconds of every process so far, this one's up to now."""
        return {"wall_s": float(self.earlier["wall_s"]) + time.perf_counter() - self._start[0],
                "cpu_s": float(self.earlier["cpu_s"]) + time.process_time() - self._start[1]}

    def put(self, key: str, tag: Any, value: Any) -> None:
        super().put(key, tag, value)
        if key != LEDGER:
            super().put(LEDGER, LEDGER, self.spent())


def study_module(name: str) -> ModuleType:
    """The study module ``mnist1d_jax.studies.<name>``."""
    if name not in ALL:
        raise ValueError(f"unknown study {name!r}; the studies are {', '.join(ALL)}")
    return importlib.import_module(f"mnist1d_jax.studies.{name}")


def check_output_folder(out: Path) -> Path:
    """Make sure ``out`` is (or can become) a writable folder, before any work; returns it."""
    if str(out).strip() == "":
        raise OutputError("the output folder is an empty path")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{out} cannot be made: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{out} cannot be written: {parent} is not writable")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-", suffix=".tmp"):
            pass
    except OSError as err:
        raise OutputError(f"{out} cannot be written ({err.strerror or err})") from None
    return out


def check_output_file(path: str | Path) -> Path:
    """Make sure the file ``path`` can be written (its folder made) before any work; returns it."""
    if str(path).strip() == "":
        raise OutputError("the output file is an empty path")
    path = check_not_a_folder(path)
    check_output_folder(path.parent)
    return path


def check_record_files(out: Path, module: ModuleType) -> None:
    """Before any work: none of the files a study writes into ``out`` (``<NAME>.json``, ``<NAME>.npz``, its
    figures ``<NAME>*.png``) is a folder, so that a long run never ends in a write that cannot happen."""
    for path in record_paths(out, module):
        check_not_a_folder(path)
    for path in sorted(Path(out).glob(f"{module.NAME}*.png")):
        check_not_a_folder(path)


def remove_stale_temporaries(out: Path, module: ModuleType) -> None:
    """Temporary files a killed earlier run of this study left behind (``.<NAME>*.tmp``, its store's)."""
    for stale in [*Path(out).glob(f".{module.NAME}*.tmp"), *state_folder(out, module).glob(".*.tmp")]:
        stale.unlink(missing_ok=True)


def state_folder(out: Path, module: ModuleType, precision: str | None = None, classes=None) -> Path:
    """Where a study's partial results are kept: ``out/.<NAME>_state/``, or ``.<NAME>_state_<precision>/`` under
    a reduced matmul precision (``precision.resolve(precision)``), and with ``_classes_<digits>`` added under a
    class subset (``data.classes.resolve_classes(classes)``, e.g. ``.<NAME>_state_classes_0-7``), so that runs
    under different settings never reuse each other's partial results."""
    name = resolve(precision)
    folder = f".{module.NAME}_state" if name == "float32" else f".{module.NAME}_state_{name}"
    if is_subset(classes):
        folder += f"_classes_{classes_text(classes)}"
    return Path(out) / folder


def check_classes(module: ModuleType, classes=None) -> None:
    """Raise ``data.classes.ClassSubsetError`` (one line) when ``resolve_classes(classes)`` holds digits out and
    the study refuses a subset (its ``REFUSES_CLASS_SUBSET`` says why)."""
    why = getattr(module, "REFUSES_CLASS_SUBSET", None)
    if why:
        refuse_class_subset(module.NAME, why, classes)


def record_paths(out: Path, module: ModuleType) -> tuple[Path, Path]:
    """``(<NAME>.json, <NAME>.npz)`` of a study's record in ``out``."""
    return Path(out) / f"{module.NAME}.json", Path(out) / f"{module.NAME}.npz"


def load_record(module: ModuleType, out: Path) -> dict[str, Any]:
    """A study's record as ``run`` returned it (its arrays read back from the ``.npz`` beside the JSON)."""
    json_path, npz_path = record_paths(out, module)
    record = read_json(json_path)
    if npz_path.exists():
        with np.load(npz_path, allow_pickle=False) as f:
            record["arrays"] = {k: f[k] for k in f.files}
    return record


def run_study(module: ModuleType | str, config=None, out: str | Path = "figures", *, classes=None,
              resume: bool = True, progress: bool = False, figures: bool = True) -> dict[str, Any]:
    """Run a study (default config: the paper's), write its record and figures into ``out``; return the record.

    ``classes``: the digits to train on (text like ``"0-7"`` or digits; None: all ten), handed to the study as
    ``ctx.classes`` and recorded in the record's provenance. ``resume``: reuse the partial results of an
    interrupted earlier run with the same settings (kept in `state_folder`); ``figures=False`` skips drawing.
    A study that refuses a class subset raises ``ClassSubsetError`` before anything is written. After
    ``jax.distributed.initialize()`` every process runs the study and gets the record; only process 0 touches
    ``out``.
    """
    module = study_module(module) if isinstance(module, str) else module
    config = module.Config() if config is None else config
    out = Path(out)
    classes = resolve_classes(classes)
    check_classes(module, classes)
    if is_writer():
        check_output_folder(out)
        check_record_files(out, module)
        remove_stale_temporaries(out, module)
    precision = resolve()
    store = TimedStore(state_folder(out, module, precision, classes) if resume else None)
    ctx = Context(store=store, progress=progress, classes=classes)
    start = time.perf_counter()
    # every program the study compiles and the provenance see the precision
    with use_precision(precision):
        record = module.run(config, ctx)
        spent = store.spent()  # this process and every earlier one that left partial results
        record = {"study": module.NAME, "config": dataclasses.asdict(config), **record,
                  "runtime_s": spent["wall_s"], "cpu_s": spent["cpu_s"],
                  "runtime_this_process_s": time.perf_counter() - start,
                  "provenance": {**provenance(), "classes": list(classes),
                                 "held_out_classes": list(held_out_classes(classes))}}
    write_record(module, record, out, figures=figures)
    return record


def write_record(module: ModuleType, record: dict[str, Any], out: Path, *, figures: bool = True) -> list[Path]:
    """Write ``record`` (JSON + arrays) and its figures: the figures first, the JSON last, so that a JSON on
    disk always has its figures, and a failed drawing leaves neither. Only process 0 writes (``[]`` elsewhere)."""

    if not is_writer():
        return []
    json_path, npz_path = record_paths(out, module)
    arrays = record.get("arrays")
    drawn: list[Path] = []
    try:
        if arrays:
            atomic_write(npz_path, lambda f: np.savez_compressed(f, **{k: np.asarray(v) for k, v in arrays.items()}))
        if figures:
            drawn = list(module.draw(record, out))
        write_json(json_path, {k: v for k, v in record.items() if k != "arrays"})
    except BaseException:
        for path in drawn:
            path.unlink(missing_ok=True)
        raise
    return drawn


def redraw(module: ModuleType | str, out: str | Path = "figures") -> list[Path]:
    """Draw a study's figures again from its record in ``out`` (no computation)."""
    module = study_module(module) if isinstance(module, str) else module
    return list(module.draw(load_record(module, out), Path(out)))


__all__ = ["LEDGER", "Context", "OutputError", "TimedStore", "check_classes", "check_output_file",
           "check_output_folder", "check_record_files", "load_record", "record_paths", "redraw",
           "remove_stale_temporaries", "run_study", "state_folder", "study_module", "write_record"]
