"""`make_dataset`: the exact MNIST-1D generator, vectorised.

The random draws follow NumPy's legacy stream in exactly the original order (read in bulk by
:mod:`mnist1d_jax.data.legacy_stream`); the arithmetic runs on blocks of ~1,000 examples at a time
(:mod:`mnist1d_jax.data.transforms`). The default config reproduces the paper's frozen dataset.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from mnist1d_jax.data import transforms
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.legacy_stream import map_example_draws
from mnist1d_jax.data.templates import NUM_CLASSES, Templates, get_templates


@dataclass(frozen=True, eq=False)
class Dataset:
    """An MNIST-1D dataset: NumPy arrays, exactly as the original package returns them.

    Attributes:
      x: (num_train, final_seq_length) float64 training inputs, standardised with the pooled mean and std.
      y: (num_train,) int64 labels 0..9.
      x_test: (num_test, final_seq_length) float64.
      y_test: (num_test,) int64.
      t: (final_seq_length,) float64 time axis (for plotting only).
      templates: the normalised templates the examples were made from.
      config: the config that made it.
      raw_mean, raw_std: the pooled mean and population std of the raw inputs that standardised them.
      seq_permutation: (final_seq_length,) int64 column permutation applied when ``config.shuffle_seq``,
        else None.
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    t: np.ndarray
    templates: Templates
    config: DatasetConfig
    raw_mean: float
    raw_std: float
    seq_permutation: np.ndarray | None = None

    def as_dict(self) -> dict:
        """The original package's dict layout: x, x_test, y, y_test, t and a ``templates`` dict."""
        return {
            "x": self.x,
            "x_test": self.x_test,
            "y": self.y,
            "y_test": self.y_test,
            "t": self.t,
            "templates": self.templates.as_dict(),
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """All arrays flat, with ``templates_*`` keys: what files store and hash."""
        extra = {} if self.seq_permutation is None else {"seq_permutation": self.seq_permutation}
        return extra | {
            "x": self.x,
            "y": self.y,
            "x_test": self.x_test,
            "y_test": self.y_test,
            "t": self.t,
            "templates_x": self.templates.x,
            "templates_t": self.templates.t,
            "templates_y": self.templates.y,
        }


@functools.lru_cache(maxsize=8)
def _template_table(padding: tuple[int, int], length: int, shifts: int) -> _TemplateTable:
    """The table for these knobs, cached: it depends on nothing else, and building it costs ~10 ms."""
    return _TemplateTable(padding, length, shifts)


class _TemplateTable:
    """Every template after ``+ EPS``, zero padding, stretching to the working length L and circular shift.

    For the default config a full (10 classes, 25 paddings, 48 shifts, L) array (7 MB) turns steps 2–5 into
    one row look-up; larger configs keep (10, paddings, L) and shift per row, or make rows on demand.
    """

    def __init__(self, padding: tuple[int, int], length: int, shifts: int):
        self.low, high = padding
        self.length = length
        self.shifts = shifts
        self.templates_x = get_templates().x
        pads = np.arange(self.low, high + 1)
        size = NUM_CLASSES * len(pads) * self.length
        self.dilated = self.shifted = None
        if size <= 2**22:
            self.dilated = np.stack([self._rows(label, pads) for label in range(NUM_CLASSES)])
            if size * self.shifts <= 2**20:
                idx = np.mod(np.arange(self.length) - np.arange(self.shifts)[:, None], self.length)
                self.shifted = self.dilated[:, :, idx]  # (10, paddings, shifts, L)
                self.shifted.flags.writeable = False
            self.dilated.flags.writeable = False  # cached and shared between datasets

    def _rows(self, label: int, pads) -> np.ndarray:
        target = np.linspace(0, 1, self.length)
        rows = []
        for p in np.asarray(pads).tolist():
            row = np.concatenate([self.templates_x[label] + transforms.EPS, np.zeros(p)])
            rows.append(np.interp(target, np.linspace(0, 1, len(row)), row))
        return np.stack(rows)

    def take(self, labels: np.ndarray, pads: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """(n, L) shifted template rows for per-example ``labels``, ``pads`` and ``shifts``."""
        if self.shifted is not None:
            return self.shifted[labels, pads - self.low, shifts]
        if self.dilated is not None:
            rows = self.dilated[labels, pads - self.low]
        else:
            rows = np.empty((len(labels), self.length))
            for label, p in set(zip(labels.tolist(), pads.tolist(), strict=True)):
                rows[(labels == label) & (pads == p)] = self._rows(label, [p])[0]
        return transforms.translate(rows, shifts)


def _transform_block(draws, labels: np.ndarray, config: DatasetConfig, table: _TemplateTable, plans) -> np.ndarray:
    """Apply the recipe's steps after the draws (pad, stretch, scale, shift, noise, shear, resample) to a block of
    examples; returns (n, final_seq_length) raw inputs."""
    smoothing, resampling = plans
    low, high = config.padding
    pads = low + (draws.pad_u * (high - low + 1)).astype(np.int64)
    # Scaling commutes with the shift (an elementwise product), so shift first, then scale: same numbers.
    x = table.take(labels, pads, draws.shift)
    x *= (1 + config.scale_coeff * (draws.scale_u - 0.5))[:, None]
    signal = x != 0
    noise = draws.normals[:, 0] * config.corr_noise_scale
    x = np.where(signal, x, transforms.smooth_rows(noise, smoothing))
    noise = np.multiply(draws.normals[:, 1], config.iid_noise_scale, out=noise)
    x += noise
    shear = config.shear_scale * (draws.shear_u - 0.5)
    x -= np.multiply(shear[:, None], np.linspace(-0.5, 0.5, config.working_length), out=noise)
    return transforms.linear_resample(x, config.final_seq_length, resampling)


MAX_GB_ENV = "MNIST1D_JAX_MAX_DATASET_GB"


class DatasetSizeError(ValueError):
    """A config whose dataset would not fit the memory bound, or whose numbers overflow float64."""


def estimated_bytes(config: DatasetConfig) -> int:
    """Peak memory of `make_dataset` for ``config``, in bytes: the output and two reordered copies of it
    (``3 x num_samples x final_seq_length`` float64), the per-block workspaces of the two worker threads (2,048
    examples of the working length, ~20 float64 arrays each) and the smoothing matrix (``L x L``)."""
    n, length, final = config.num_samples, config.working_length, config.final_seq_length
    return 24 * n * final + 2 * 2048 * length * 8 * 20 + 8 * length * length + 8 * length * final


def memory_bound() -> int:
    """The largest dataset `make_dataset` generates, in bytes: ``$MNIST1D_JAX_MAX_DATASET_GB`` if set, else 60 % of
    the machine's memory."""
    env = os.environ.get(MAX_GB_ENV, "").strip()
    if env:
        try:
            return int(float(env) * 2**30)
        except ValueError:
            raise ValueError(f"${MAX_GB_ENV}={env!r} is not a number of GB") from None
    try:
        return int(0.6 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def make_dataset(config: DatasetConfig | None = None) -> Dataset:
    """Generate an MNIST-1D dataset.

    Args:
      config: the generator's knobs; ``DatasetConfig()`` (the default) reproduces the paper's frozen data:
        labels equal and inputs within 1e-15 of the original package's output.

    Returns:
      A `Dataset` of NumPy arrays: ``x (num_train, final_seq_length)`` float64 (standardised: zero mean, unit
      std over the whole dataset), ``y (num_train,)`` int64, ``x_test``, ``y_test``, ``t (final_seq_length,)``.
      The global ``np.random`` stream is never touched: the generator draws from its own
      ``RandomState(config.seed)``.

    Raises:
      DatasetSizeError: before any work, if the dataset would need more memory than `memory_bound` (raise the
        bound with ``$MNIST1D_JAX_MAX_DATASET_GB``); after it, if the values overflow float64 (a huge
        ``scale_coeff`` or ``shear_scale``).
    """
    config = DatasetConfig() if config is None else config
    if not isinstance(config, DatasetConfig):
        raise TypeError(f"make_dataset expects a DatasetConfig, got {type(config).__name__}")
    need, bound = estimated_bytes(config), memory_bound()
    if need > bound:
        raise DatasetSizeError(f"{config} needs about {need / 2**30:.1f} GB, above the bound of {bound / 2**30:.1f} GB "
                               f"(set ${MAX_GB_ENV} to allow more)")
    templates = get_templates()
    rs = np.random.RandomState(config.seed)
    n = config.num_samples
    per_class = n // NUM_CLASSES
    length = config.working_length
    plans = (
        transforms.gaussian_smoothing_matrix(length),
        transforms.linear_resample_plan(length, config.final_seq_length),
    )
    table = _template_table(config.padding, config.working_length, config.max_translation)

    def transform(draws, first: int) -> np.ndarray:
        labels = np.arange(first, first + len(draws.pad_u)) // per_class  # generation is class-major
        return _transform_block(draws, labels, config, table, plans)

    x_raw = np.concatenate(map_example_draws(rs, n, length, config.max_translation, transform))
    y = np.repeat(templates.y, per_class)

    perm = rs.permutation(n)
    x_raw, y = x_raw[perm], y[perm]
    seq_permutation = None
    if config.shuffle_seq:
        seq_permutation = rs.permutation(config.final_seq_length)
        x_raw = x_raw[:, seq_permutation]

    # The time axis: the template's, resampled 12 -> L -> final length like the signals, over the raw std.
    t = np.interp(np.linspace(0, 1, length), np.linspace(0, 1, len(templates.t)), templates.t)
    t = np.interp(np.linspace(0, 1, config.final_seq_length), np.linspace(0, 1, length), t)
    # Standardise in place with the pooled mean and population std: the same operations as
    # ``(x_raw - x_raw.mean()) / x_raw.std()``, so the same bits, in half the passes over the array.
    mean = x_raw.mean()
    x = np.subtract(x_raw, mean, out=x_raw)
    std = np.sqrt(np.square(x).sum() / x.size)
    if not (np.isfinite(mean) and np.isfinite(std)):
        raise DatasetSizeError(f"{config}: the raw values overflow float64 (mean {mean}, std {std}); use smaller "
                               "scale_coeff, shear_scale or noise scales")
    if std == 0:  # e.g. no noise, scale or shear and all-zero templates: the original divides 0 by 0 (NaN)
        raise DatasetSizeError(f"{config}: every raw value equals {mean} (std 0), so the inputs cannot be "
                               "standardised; use a non-zero noise scale, scale_coeff or shear_scale")
    t = t / std
    x /= std

    split = config.num_train
    return Dataset(
        x=x[:split],
        y=y[:split],
        x_test=x[split:],
        y_test=y[split:],
        t=t,
        templates=templates,
        config=config,
        raw_mean=float(mean),
        raw_std=float(std),
        seq_permutation=seq_permutation,
    )
