"""An on-device MNIST-1D sampler in JAX, for infinite-data experiments.

`sample(key, n, config)` draws fresh examples by the generator's recipe with
``jax.random``: the same distribution as `make_dataset`, but different numbers. It is jit-able (``n`` and
``config`` are static) and vmappable over keys, so a training loop can draw each batch on the device.
`render(key, templates, y, config)` is the same recipe for any 12-point templates (new classes: see
``data.new_classes``); templates and labels may be traced, so it runs inside a jitted, vmapped task sampler.
"""

from __future__ import annotations

from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.data import transforms
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.data.templates import NUM_CLASSES, TEMPLATE_POINTS, get_templates


def _resampling_matrix(old_length: int, new_length: int) -> np.ndarray:
    """(old, new) matrix M with ``rows @ M`` = linear resampling onto ``new_length`` even points."""
    return transforms.linear_resample(np.eye(old_length), new_length)


@lru_cache(maxsize=16)
def _constants(config: DatasetConfig):
    """Config-dependent constants, computed once per config in NumPy float64.

    The standardisation uses the pooled raw mean and std of ``make_dataset(config)`` and, with
    ``shuffle_seq``, its column permutation, so sampled and generated examples are on the same scale.
    """
    reference = make_dataset(config)
    perm = reference.seq_permutation
    return {
        "smoothing": transforms.gaussian_smoothing_matrix(config.working_length),
        "resampling": _resampling_matrix(config.working_length, config.final_seq_length),
        "mean": reference.raw_mean,
        "std": reference.raw_std,
        "perm": None if perm is None else perm,
    }


@partial(jax.jit, static_argnums=(1, 2))
def sample(key: jax.Array, n: int, config: DatasetConfig | None = None) -> tuple[jax.Array, jax.Array]:
    """Draw `n` fresh MNIST-1D examples on the device.

    Same recipe and distribution as `make_dataset(config)` (pad, stretch, scale, shift, correlated background
    noise, white noise, shear, resample, standardise with that dataset's pooled mean and std), drawn with
    ``jax.random`` in float32: different numbers from the NumPy generator, which follows NumPy's legacy
    stream. Labels are drawn uniformly (the generator makes exactly n/10 of each class).

    Args:
      key: a ``jax.random`` key.
      n: number of examples (static).
      config: generator knobs (static; hashable frozen dataclass; default ``DatasetConfig()``).
        ``num_samples``, ``train_split`` and ``seed`` only matter through the standardisation constants.

    Returns:
      x: (n, config.final_seq_length) float32 standardised inputs; y: (n,) int32 labels.
    """
    config = DatasetConfig() if config is None else config
    y = jax.random.randint(jax.random.split(key, 7)[0], (n,), 0, NUM_CLASSES)
    return render(key, get_templates().x, y, config), y


def render(key: jax.Array, templates: jax.Array, y: jax.Array, config: DatasetConfig | None = None) -> jax.Array:
    """The generator's recipe on rows of any templates: example i is made from ``templates[y[i]]``.

    Args:
      key: a ``jax.random`` key; split seven ways as `sample` splits it (the first stream, `sample`'s labels,
        is not used here), so ``render(key, digit templates, y)`` is `sample`'s ``x`` for the same key and y.
      templates: ``(C, 12)`` normalised curves (``templates.get_templates().x`` or new classes').
      y: ``(n,)`` int rows of `templates`.
      config: generator knobs (static; default ``DatasetConfig()``); the standardisation uses the pooled raw mean
        and std of ``make_dataset(config)``, so new classes land on the digits' scale.

    Returns:
      ``(n, config.final_seq_length)`` float32 standardised inputs. Jit-able and vmappable (templates and y may
      be traced; only their shapes are static).
    """
    config = DatasetConfig() if config is None else config
    c = _constants(config)
    n = y.shape[0]
    length = config.working_length
    low, high = config.padding
    _, k_pad, k_scale, k_shift, k_corr, k_iid, k_shear = jax.random.split(key, 7)

    pads = low + jnp.floor(jax.random.uniform(k_pad, (n,)) * (high - low + 1)).astype(jnp.int32)
    # Stretch template + padding (12 + p points on [0, 1]) onto L points: linear interpolation.
    position = jnp.linspace(0.0, 1.0, length)[None, :] * (TEMPLATE_POINTS + pads - 1)[:, None]
    left = jnp.minimum(jnp.floor(position).astype(jnp.int32), (TEMPLATE_POINTS + pads - 2)[:, None])
    frac = position - left
    # + EPS keeps template zeros apart from the background; added in float64 for NumPy templates (the digits':
    # `sample`'s numbers are then what they were before `render` existed), in float32 for traced ones
    lifted = (templates if isinstance(templates, np.ndarray) else jnp.asarray(templates)) + transforms.EPS
    padded = jnp.zeros((templates.shape[0], TEMPLATE_POINTS + high + 1), jnp.float32)
    rows = padded.at[:, :TEMPLATE_POINTS].set(jnp.asarray(lifted, jnp.float32))[y]
    x = jnp.take_along_axis(rows, left, 1) * (1 - frac) + jnp.take_along_axis(rows, left + 1, 1) * frac

    x = x * (1 + config.scale_coeff * (jax.random.uniform(k_scale, (n, 1)) - 0.5))
    shift = jax.random.randint(k_shift, (n, 1), 0, config.max_translation)
    x = jnp.take_along_axis(x, (jnp.arange(length)[None, :] - shift) % length, 1)

    # The data's two products are full float32 whatever the matmul precision policy (precision.py) says: a
    # reduced setting is about the models' arithmetic, and must not change the examples drawn.
    full = jax.lax.Precision.HIGHEST
    background = config.corr_noise_scale * jnp.matmul(jax.random.normal(k_corr, (n, length)), c["smoothing"],
                                                      precision=full)
    x = jnp.where(x != 0, x, background)
    x = x + config.iid_noise_scale * jax.random.normal(k_iid, (n, length))
    shear = config.shear_scale * (jax.random.uniform(k_shear, (n, 1)) - 0.5)
    x = x - shear * jnp.linspace(-0.5, 0.5, length)
    x = jnp.matmul(x, jnp.asarray(c["resampling"], jnp.float32), precision=full)
    if c["perm"] is not None:
        x = x[:, c["perm"]]
    x = (x - c["mean"]) / c["std"]
    return x.astype(jnp.float32)
