"""A drop-in for the original package's ``mnist1d.data`` and ``mnist1d.utils`` APIs: port a script by changing
one import line.

    # before
    from mnist1d.data import get_dataset_args, get_dataset, make_dataset
    # after
    from mnist1d_jax.data.compat import get_dataset_args, get_dataset, make_dataset

    args = get_dataset_args()            # an attribute object with the original's fields and defaults
    args.num_samples = 10_000            # change any of them, as before
    data = make_dataset(args)            # the same dict: x, x_test, y, y_test, t, templates (NumPy, float64/int64)
    frozen = get_dataset(args, path="./mnist1d_data.npz")   # the paper's frozen data, as the original's download

The values are the original's: `make_dataset` gives labels equal and inputs within 1e-15 of the original package
for the same arguments (tested against it), and never touches the global ``np.random`` stream (the original
seeds it). What differs, on purpose:

* files are ``.npz`` archives with a SHA-256 over arrays and config (`mnist1d_jax.data.io`), written
  atomically; nothing is ever unpickled. A ``.pkl`` path is refused; `convert_pickle` converts an existing
  ``mnist1d_data.pkl`` once, and only with ``trust=True`` (unpickling can run arbitrary code);
* ``download=True`` needs no network: the original downloads the frozen 2020 dataset, which is exactly what
  `make_dataset` gives for the default arguments, so that is generated (whatever ``args`` says, as the
  original's download ignores them too);
* a damaged file is regenerated with a warning instead of silently, and a file made with other arguments
  than the ones asked for is reported.

From ``mnist1d.utils``: `ObjectView` (`DatasetArgs` is one), `set_seed` (seeds Python's and NumPy's global
streams, as the original: the one function here that touches global state, because that is what it is called
for), `to_pickle` / `from_pickle` (reading needs ``trust=True``), `plot_signals` (returns the figure;
``do_transform=True`` is refused, see its docstring). `get_templates` returns the original's dict.
"""

from __future__ import annotations

import dataclasses
import pickle
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import Dataset
from mnist1d_jax.data.generator import make_dataset as _make
from mnist1d_jax.data.io import DatasetFileError, load_dataset, save_dataset
from mnist1d_jax.data.templates import get_templates as _templates
from mnist1d_jax.runtime.results import atomic_write

URL = "https://github.com/greydanus/mnist1d/raw/master/mnist1d_data.pkl"  # the original's (never fetched here)
_FIELDS = tuple(f.name for f in dataclasses.fields(DatasetConfig))


class ObjectView:
    """The original's attribute view of a dict: ``ObjectView(d).key`` is ``d["key"]`` (the dict itself is the
    attribute store, so changes show on both sides)."""

    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__ = d


class DatasetArgs(ObjectView):
    """The original's argument object: one attribute per `DatasetConfig` field, plus ``url``.

    Change attributes freely (``args.num_samples = 10_000``); `to_config` validates them when they are used.
    """

    def __init__(self, **values: Any) -> None:
        super().__init__(dict(values))

    def __repr__(self) -> str:
        return "DatasetArgs(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatasetArgs) and vars(self) == vars(other)


def get_dataset_args(as_dict: bool = False) -> DatasetArgs | dict[str, Any]:
    """The original's default arguments (the paper's frozen dataset): a `DatasetArgs`, or a dict with
    ``as_dict=True``. ``padding`` is a list ``[36, 60]``, as in the original."""
    values = DatasetConfig().to_dict() | {"url": URL}
    return dict(values) if as_dict else DatasetArgs(**values)


def to_config(args: Any = None) -> DatasetConfig:
    """A `DatasetConfig` from the original's arguments: a `DatasetArgs`, the original's ``ObjectView``, an
    ``argparse.Namespace``, a dict, or None (the defaults). Fields that are missing keep their defaults and
    other attributes (``url``) are ignored; a bad value raises a `ConfigError` naming the field."""
    if args is None:
        return DatasetConfig()
    values = args if isinstance(args, dict) else getattr(args, "__dict__", None)
    if values is None:
        raise TypeError(f"args must be an argument object (get_dataset_args()) or a dict, not {type(args).__name__}")
    chosen = {k: values[k] for k in _FIELDS if k in values}
    if isinstance(chosen.get("padding"), list):
        chosen["padding"] = tuple(chosen["padding"])
    return DatasetConfig(**chosen)


def _check_template(template: Any) -> None:
    """The original lets a caller pass its own templates; this generator uses the built-in ones only."""
    if template is None:
        return
    ours = _templates().as_dict()
    same = isinstance(template, dict) and set(template) >= set(ours) and all(
        np.array_equal(np.asarray(template[k]), ours[k]) for k in ours)
    if not same:
        raise ValueError("custom templates are not supported by mnist1d_jax.data.compat (only the built-in ten "
                         "digits); pass template=None")


def make_dataset(args: Any = None, template: Any = None) -> dict[str, Any]:
    """The dataset for the original's arguments, in the original's dict layout: ``x (N_train, 40)`` and
    ``x_test (N_test, 40)`` float64, ``y``/``y_test`` int64 labels 0..9, ``t (40,)`` float64 and ``templates``
    (a dict ``x (10, 12)``, ``t (12,)``, ``y (10,)``). `template` is accepted only as the built-in templates."""
    _check_template(template)
    return _make(to_config(args)).as_dict()


def _npz_path(path: Any, shuffled: bool) -> Path:
    if path is None:
        return Path(f"./mnist1d_data{'_shuffle' if shuffled else ''}.npz")
    path = Path(path)
    if path.suffix == ".pkl":
        raise ValueError(f"{path}: mnist1d_jax never reads or writes pickles (loading one can run code); use a "
                         f".npz path, or convert an existing pickle once with "
                         f"mnist1d_jax.data.compat.convert_pickle({str(path)!r}, trust=True)")
    return path


def get_dataset(args: Any = None, path: Any = None, verbose: bool = True, download: bool = True,
                regenerate: bool = False, **kwargs: Any) -> dict[str, Any]:
    """The original's ``get_dataset``: read the dataset at `path` (default ``./mnist1d_data.npz``), or make it
    and save it there; returns the `make_dataset` dict.

    ``download=True`` (the default) stands for the original's download of the frozen 2020 dataset: that file
    is `make_dataset` of the default arguments, so it is generated locally (no network) whatever `args` says.
    ``regenerate=True`` makes the dataset of `args` and overwrites `path`. Both at once is an error, as in the
    original. A damaged file is regenerated with a warning; a file made with other arguments than those asked
    for is returned as it is, with a warning (the original does not check). ``kwargs``: ``template`` (built-in
    only) as in `make_dataset`.
    """
    if download and regenerate:
        raise ValueError("get_dataset: download=True and regenerate=True exclude each other (the frozen dataset, "
                         "or your own)")
    _check_template(kwargs.pop("template", None))
    if kwargs:
        raise TypeError(f"get_dataset: unexpected arguments {sorted(kwargs)}")
    wanted = DatasetConfig() if download else to_config(args)
    path = _npz_path(path, wanted.shuffle_seq)
    say = print if verbose else (lambda *a, **k: None)
    if path.exists() and not regenerate:
        try:
            dataset = load_dataset(path)
        except DatasetFileError as err:
            warnings.warn(f"{err}; regenerating it", stacklevel=2)
        else:
            if dataset.config != wanted:
                warnings.warn(f"{path} holds the dataset of {dataset.config}, not of the arguments asked for "
                              f"({wanted}); returning it as it is (regenerate=True replaces it)", stacklevel=2)
            say(f"Loaded the dataset from {path}")
            return dataset.as_dict()
    dataset = _make(wanted)
    save_dataset(dataset, path)
    what = "the frozen MNIST-1D dataset (equal to the original's download)" if download else "the dataset"
    say(f"Generated {what} and saved it to {path}")
    return dataset.as_dict()


def convert_pickle(src: Any, dst: Any = None, *, args: Any = None, trust: bool = False) -> Path:
    """Convert an original ``mnist1d_data.pkl`` into this package's checked ``.npz`` once; returns its path.

    Unpickling runs whatever code the file holds, so it happens only with ``trust=True``: pass it for a file you
    made yourself or took from the original repository. The pickle's arrays must be the dataset of `args`
    (default: the frozen dataset's arguments): labels equal and inputs within 1e-12 of `make_dataset(args)`,
    else a `ValueError` says which array differs. `dst` defaults to `src` with the suffix ``.npz``.
    """
    src = Path(src)
    if not trust:
        raise ValueError(f"{src}: unpickling can run arbitrary code; call convert_pickle(..., trust=True) only for a "
                         "file you made yourself or took from the original repository")
    if not src.exists():
        raise FileNotFoundError(f"no pickle at {src}")
    with src.open("rb") as f:
        data = pickle.load(f)  # noqa: S301  the caller vouched for the file (trust=True)
    if not isinstance(data, dict) or not {"x", "y", "x_test", "y_test"} <= set(data):
        raise ValueError(f"{src}: not an MNIST-1D dataset pickle (a dict with x, y, x_test, y_test)")
    config = to_config(args)
    ours = _make(config)
    for name in ("x", "x_test", "y", "y_test"):
        theirs, mine = np.asarray(data[name]), getattr(ours, name)
        if theirs.shape != mine.shape or not np.allclose(theirs, mine, rtol=0, atol=1e-12):
            raise ValueError(f"{src}: array {name!r} is not the dataset of {config} (pass the arguments it was made "
                             "with as args=)")
    converted = Dataset(**{**{f.name: getattr(ours, f.name) for f in dataclasses.fields(Dataset)},
                           **{name: np.asarray(data[name]) for name in ("x", "x_test", "y", "y_test")}})
    return save_dataset(converted, src.with_suffix(".npz") if dst is None else Path(dst))


def get_templates() -> dict[str, np.ndarray]:
    """The ten digit templates as the original's dict: ``x (10, 12)``, ``t (12,)`` (float64), ``y (10,)``."""
    return _templates().as_dict()


def set_seed(seed: int) -> None:
    """Seed Python's ``random`` and NumPy's global stream, as the original's ``set_seed`` does (nothing in this
    package reads them: every generator here takes its seed explicitly)."""
    random.seed(seed)
    np.random.seed(seed)


def to_pickle(thing: Any, path: Any) -> None:
    """Pickle ``thing`` to ``path`` (protocol 3, as the original), atomically."""
    atomic_write(Path(path), lambda f: pickle.dump(thing, f, protocol=3))


def from_pickle(path: Any, trust: bool = False) -> Any:
    """Unpickle ``path``, only with ``trust=True``: unpickling a file can run any code it holds."""
    if not trust:
        raise ValueError(f"{path}: unpickling can run arbitrary code; call from_pickle(path, trust=True) only for "
                         "a file you made yourself")
    with open(path, "rb") as f:
        return pickle.load(f)


def plot_signals(xs, t, labels=None, args=None, ratio: float = 2.6, do_transform: bool = False,
                 dark_mode: bool = False, zoom: float = 1):
    """The first ten signals of ``xs (N, L)`` against ``t (L,)``, drawn vertically in one row of ten panels as the
    original does; returns the matplotlib figure (shown by a notebook; the original also calls ``plt.show()``).

    ``do_transform=True`` (the original transforms each signal with the global NumPy stream) is refused: draw
    transformed examples with ``make_dataset(args)`` instead, which is seeded and reproducible.
    """
    import matplotlib.pyplot as plt

    if do_transform:
        raise ValueError("plot_signals(do_transform=True) is not supported: plot rows of make_dataset(args)['x'] "
                         "instead (seeded, reproducible)")
    xs, t = np.asarray(xs), np.asarray(t)
    if xs.ndim != 2 or len(xs) < 10 or xs.shape[1] != t.shape[-1]:
        raise ValueError(f"plot_signals needs xs (N >= 10, L) and t (L,); got {xs.shape} and {t.shape}")
    fig, axes = plt.subplots(1, 10, figsize=(15, 1.5 * ratio), dpi=60)
    for i, ax in enumerate(axes):
        ax.plot(xs[i], t, "wo" if dark_mode else "k-", linewidth=6 if dark_mode else 2)
        if dark_mode:
            ax.set_facecolor("k")
        if labels is not None:
            ax.set_title(f"label={labels[i]}", fontsize=22)
        ax.set_xlim(-zoom, zoom)
        ax.set_ylim(zoom, -zoom)  # time runs downwards
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(wspace=0, hspace=0)
    fig.tight_layout()
    return fig


__all__ = ["DatasetArgs", "ObjectView", "convert_pickle", "from_pickle", "get_dataset", "get_dataset_args",
           "get_templates", "make_dataset", "plot_signals", "set_seed", "to_config", "to_pickle"]
