"""From a generated dataset to the arrays a study trains on: validation splits, input permutations and flips,
and label noise (all host-side, deterministic, seeded explicitly).

* `prepare_data(ds, val_fraction, val_seed, permutation, flip, classes=None)` -> `Data`: float32 / int32
  device arrays, restricted to a class subset when one is asked for or in effect (``data.classes``).
* `select_classes(data, classes)`: only the rows of some digits; the other digits' test rows become
  ``Data.x_held, y_held`` (held-out classes, for out-of-distribution evaluation). Labels stay the digits.
* `SHUFFLE_PERMUTATION`: the 2024 benchmark figure's "shuffled MNIST-1D", the columns permuted by
  ``np.random.seed(42); np.random.permutation(40)``; `LOTTERY_SHUFFLE`: the lottery ablation's permutation,
  ``np.random.seed(0); np.random.permutation(40)``.
* `label_noise(y, config, rate)`: the original notebook's noisy labels, from NumPy's legacy stream continued
  right after the generator's own draws.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.data.classes import ALL_CLASSES, resolve_classes
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.legacy_stream import map_example_draws
from mnist1d_jax.data.templates import NUM_CLASSES

Array = jax.Array

SHUFFLE_PERMUTATION = (19, 16, 15, 26, 4, 12, 37, 27, 39, 6, 25, 9, 13, 31, 34, 8, 17, 24, 0, 33, 5, 11, 1, 29, 21,
                       2, 30, 36, 3, 35, 23, 32, 10, 22, 18, 20, 7, 14, 28, 38)
LOTTERY_SHUFFLE = (22, 20, 25, 4, 10, 15, 28, 11, 18, 29, 27, 35, 37, 2, 39, 30, 34, 16, 36, 8, 13, 5, 17, 14, 33, 7,
                   32, 1, 26, 12, 31, 24, 6, 23, 21, 19, 9, 38, 3, 0)


class Data(NamedTuple):
    """Device arrays of one dataset: ``x (N, D) float32``, ``y (N,) int32``, test, optional validation and
    optional held-out classes.

    ``x_held, y_held``: the test rows of the digits a class subset holds out (`select_classes`; None when every
    digit is kept), for out-of-distribution evaluation; never trained or tested on. Labels are always the
    original digits 0-9, so models keep their ten outputs whatever the subset.
    """

    x: Array
    y: Array
    x_test: Array
    y_test: Array
    x_val: Array | None = None
    y_val: Array | None = None
    x_held: Array | None = None
    y_held: Array | None = None


def _get(ds: Any, name: str):
    return ds[name] if isinstance(ds, dict) or hasattr(ds, "keys") else getattr(ds, name)


def _rows(a, keep: np.ndarray):
    """The rows ``keep`` (a boolean mask) of a NumPy or JAX array, the same kind of array back."""
    return a[np.flatnonzero(keep)]


def select_classes(data: Data, classes) -> Data:
    """Only the rows of the digits ``classes`` (text like ``"0-7"`` or digits; `classes.resolve_classes`, so
    None means the setting in effect): training, validation and test rows are filtered by their label, in
    their order; the test rows of the other digits go to ``x_held, y_held`` (None when no digit is held out).

    Labels stay the original digits (a model keeps ten outputs). Rows are selected by the labels ``data``
    holds (with label noise: the noisy ones, the labels training sees). Selecting again narrows the subset:
    earlier held-out rows stay first in ``x_held``; a digit held out before cannot be brought back. All ten
    digits return ``data`` itself. NumPy arrays stay NumPy arrays, device arrays device arrays.
    """
    kept = resolve_classes(classes)
    if data.y_held is not None:
        back = sorted(set(np.unique(np.asarray(data.y_held)).tolist()) & set(kept))
        if back:
            raise ValueError(f"digits {back} were held out of this data already: select_classes can only narrow")
    if kept == ALL_CLASSES:
        return data
    digits = np.asarray(kept)

    def keep(y):
        return np.isin(np.asarray(y), digits)

    train, test = keep(data.y), keep(data.y_test)
    x_held, y_held = _rows(data.x_test, ~test), _rows(data.y_test, ~test)
    if data.x_held is not None:
        cat = jnp.concatenate if isinstance(x_held, jax.Array) else np.concatenate
        x_held, y_held = cat([data.x_held, x_held]), cat([data.y_held, y_held])
    val = {}
    if data.x_val is not None:
        v = keep(data.y_val)
        val = {"x_val": _rows(data.x_val, v), "y_val": _rows(data.y_val, v)}
    held = {"x_held": x_held, "y_held": y_held} if len(y_held) else {"x_held": None, "y_held": None}
    return data._replace(x=_rows(data.x, train), y=_rows(data.y, train), x_test=_rows(data.x_test, test),
                         y_test=_rows(data.y_test, test), **val, **held)


def prepare_data(ds: Any, val_fraction: float = 0.0, val_seed: int = 0, permutation=None, flip: bool = False,
                 y: Any = None, classes=None) -> Data:
    """Host-side preparation: float32/int32 device arrays, optional input transform and validation split.

    Args:
      ds: anything with ``x, y, x_test, y_test`` (a ``Dataset``, a dict, an ``np.load`` result).
      val_fraction: fraction in [0, 1) of the training set held out as validation (``round(N * f)`` examples
        chosen by ``np.random.default_rng(val_seed)``; the remaining training rows keep their order).
      permutation: a permutation of the D input positions, applied to every split (shuffled MNIST-1D).
      flip: reverse the D input positions of every split (applied before ``permutation``).
      y: training labels to use instead of ``ds.y`` (e.g. from `label_noise`).
      classes: keep only these digits (`select_classes`, after the validation split, so the validation rows
        of the kept digits are those of the full split); None: all ten digits, which leaves the data exactly as
        without the option. Nothing ambient (environment, globals) changes what this returns.
    """
    kept = resolve_classes(classes)
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction!r}: use a fraction in [0, 1)")
    x = np.asarray(_get(ds, "x"), np.float32)
    y = np.asarray(_get(ds, "y") if y is None else y, np.int32)
    x_test = np.asarray(_get(ds, "x_test"), np.float32)
    y_test = np.asarray(_get(ds, "y_test"), np.int32)
    if flip:
        x, x_test = x[:, ::-1], x_test[:, ::-1]
    if permutation is not None:
        perm = np.asarray(permutation)
        if sorted(perm.tolist()) != list(range(x.shape[1])):
            raise ValueError(f"permutation must reorder the {x.shape[1]} input positions")
        x, x_test = x[:, perm], x_test[:, perm]
    x, x_test = np.ascontiguousarray(x), np.ascontiguousarray(x_test)
    if val_fraction > 0:
        n_val = int(round(len(x) * val_fraction))
        val = np.zeros(len(x), bool)
        val[np.random.default_rng(val_seed).choice(len(x), n_val, replace=False)] = True
        host = Data(x[~val], y[~val], x_test, y_test, x[val], y[val])
    else:
        host = Data(x, y, x_test, y_test)
    host = select_classes(host, kept)  # on the host: only the kept rows travel to the device
    return Data(*(None if a is None else jnp.asarray(a) for a in host))


def label_noise(y: np.ndarray, config: DatasetConfig, rate: float = 0.15) -> tuple[np.ndarray, dict]:
    """Noisy training labels exactly as the original notebook makes them.

    The generator's ``RandomState(config.seed)`` is replayed (every example's draws, then the train/test
    permutation) up to where the notebook starts drawing: for each training label in order,
    ``random_sample() < rate`` selects it and ``randint(0, 10)`` replaces it (possibly by itself). Returns the
    labels and ``{"selected", "changed", "n"}``; with seed 42 and rate 0.15, 639 of 4,000 are selected and
    577 changed.
    """
    if not 0 <= rate <= 1:
        raise ValueError(f"label noise rate={rate!r}: use a fraction in [0, 1]")
    rs = np.random.RandomState(config.seed)
    map_example_draws(rs, config.num_samples, config.working_length, config.max_translation, lambda d, f: None)
    rs.permutation(config.num_samples)
    if config.shuffle_seq:
        rs.permutation(config.final_seq_length)
    noisy = np.array(y, copy=True)
    selected = 0
    for i in range(len(noisy)):
        if rs.random_sample() < rate:
            noisy[i] = rs.randint(0, NUM_CLASSES)
            selected += 1
    return noisy, {"selected": selected, "changed": int((noisy != y).sum()), "n": len(y)}


__all__ = ["Data", "LOTTERY_SHUFFLE", "SHUFFLE_PERMUTATION", "label_noise", "prepare_data", "select_classes"]
