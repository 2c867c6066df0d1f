"""New MNIST-1D classes: smooth random 12-point templates, and few-shot tasks drawn from them on the device.

A class of MNIST-1D is a 12-point template; `sampler.render` turns any template into examples by the
generator's recipe (pad, stretch, scale, shift, correlated and white noise, shear, resample, standardise with
the frozen data's constants). New templates therefore make new classes, on the digits' scale.

How a new template is drawn (`draw_templates`): a Gaussian-process bridge over the 12 template points, a
squared-exponential kernel of length-scale `LENGTHSCALE` = 2 points conditioned on zero at both ends, then the
digits' own normalisation (`templates.get_templates`: centre, divide by the standard deviation, subtract the
first value, divide by 6; with both ends at zero this is ``x / (6 std(x))``). Why these choices: every hand-drawn
digit starts and ends at the same value and has standard deviation 1/6 after normalisation, so the bridge and the
normalisation put new curves in exactly that family; the length-scale is the one whose draws match the digits'
roughness (mean ``|first difference|`` 0.105 vs the digits' 0.102, mean ``|second difference|`` 0.096 vs 0.098, over
20,000 draws; length-scales 1.5 / 2.5 / 3 give 0.122 / 0.096 / 0.091 and 0.136 / 0.073 / 0.060). A draw whose
largest ``|value|`` exceeds the digits' (0.474) is discarded, so new curves stay within the digits' value range
(about 20 % of draws).

Distinct classes (`template_bank`): two templates are compared by `template_distance`, the RMS difference of
the two curves minimised over relative shifts of up to `MAX_SHIFT` points (the generator translates every
example, so a template and its slightly shifted copy would be one class). The closest pair of digits (4 and 9)
is 0.089 apart; a bank keeps a candidate only if it is at least half that (`min_distance`) from every digit and
every template kept before it, so no new class is a near copy of a digit or of another new class. The kept
templates are then shuffled and split into the test, validation and training banks: disjoint (every pair
differs), and drawn from one distribution (the greedy packing favours neither bank).

Tasks (`sample_task`, `sample_real_task`): N-way K-shot tasks with Q queries per class, as `FewShotTask`; the N
classes are a random subset (without replacement) of a bank or of the ten digits, labelled 0..N-1 in the drawn
order; examples of new classes are rendered afresh from the task's key, examples of digits are distinct rows of
real data. Both are jit-able and vmappable over keys (N, K, Q static).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.sampler import render
from mnist1d_jax.data.templates import NUM_CLASSES, TEMPLATE_POINTS, get_templates

LENGTHSCALE = 2.0  # template points: the digits' roughness (module docstring)
MAX_SHIFT = 2  # template points: the relative shifts `template_distance` forgives
CANDIDATES_PER_ROUND = 4096


class TemplateBank(NamedTuple):
    """Disjoint banks of new templates, each ``(n, 12)`` float32 (rows differ by >= ``min_distance``)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    min_distance: float


class FewShotTask(NamedTuple):
    """One N-way K-shot task: ``support_x (N*K, 40)``, ``support_y (N*K,)`` int32 in 0..N-1 (class-major),
    ``query_x (N*Q, 40)``, ``query_y (N*Q,)``, and ``classes (N,)``: the bank rows (or digits) behind labels
    0..N-1. A leading axis when vmapped over keys."""

    support_x: jax.Array
    support_y: jax.Array
    query_x: jax.Array
    query_y: jax.Array
    classes: jax.Array


# ----------------------------------------------------------------------------------------------------------------
# templates
@functools.lru_cache(maxsize=8)
def _bridge_factor(lengthscale: float) -> np.ndarray:
    """``(10, 10)`` Cholesky factor of the squared-exponential covariance of the 10 inner points given zero at
    both ends (float64)."""
    t = np.arange(TEMPLATE_POINTS, dtype=np.float64)
    k = np.exp(-0.5 * (t[:, None] - t[None]) ** 2 / lengthscale**2)
    ends, inner = [0, TEMPLATE_POINTS - 1], list(range(1, TEMPLATE_POINTS - 1))
    k_ie = k[np.ix_(inner, ends)]
    cov = k[np.ix_(inner, inner)] - k_ie @ np.linalg.solve(k[np.ix_(ends, ends)], k_ie.T)
    return np.linalg.cholesky(cov + 1e-6 * np.eye(len(inner)))  # jitter: the conditional is near singular


def draw_templates(key: jax.Array, n: int, lengthscale: float = LENGTHSCALE) -> jax.Array:
    """``(n, 12)`` float32 random templates: bridge draws normalised as the digits are (module docstring).

    ``n`` and ``lengthscale`` are static; jit-able and vmappable over keys. Not yet filtered by range or
    distance (that is `template_bank`'s job)."""
    inner = jax.random.normal(key, (n, TEMPLATE_POINTS - 2)) @ jnp.asarray(_bridge_factor(lengthscale).T,
                                                                           jnp.float32)
    curves = jnp.pad(inner, ((0, 0), (1, 1)))
    return curves / (6.0 * jnp.std(curves, axis=1, keepdims=True))


def template_distance(a: np.ndarray, b: np.ndarray, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """``(n, m)`` distances between templates ``a (n, 12)`` and ``b (m, 12)``: the RMS difference over the 12
    points, minimised over shifts of ``a`` by ``-max_shift..max_shift`` points (zeros shifted in)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    pa, pb = np.pad(a, ((0, 0), (max_shift, max_shift))), np.pad(b, ((0, 0), (max_shift, max_shift)))
    best = np.full((len(a), len(b)), np.inf)
    for s in range(-max_shift, max_shift + 1):  # a handful of shifts, on the host, once per bank
        d = np.roll(pa, s, axis=1)[:, None] - pb[None]
        best = np.minimum(best, np.sqrt(np.sum(d * d, axis=-1) / TEMPLATE_POINTS))
    return best


def digit_spacing() -> float:
    """The smallest `template_distance` between two different digits (0.089: digits 4 and 9)."""
    d = template_distance(get_templates().x, get_templates().x)
    return float(d[np.triu_indices(NUM_CLASSES, 1)].min())


def template_bank(seed: int, train: int, val: int, test: int, *, lengthscale: float = LENGTHSCALE,
                  min_distance: float | None = None, max_candidates: int = 200_000) -> TemplateBank:
    """Disjoint banks of `train`, `val` and `test` new templates (module docstring).

    Candidates come from ``draw_templates(fold_in(key(seed), round), 4096)``, rounds in order; one within the
    digits' value range is kept when it is at least `min_distance` (default: half `digit_spacing`) from every
    digit and every template kept so far. The kept ones are shuffled with the seed's key and split. Raises
    ``ValueError`` when `max_candidates` draws do not give enough (the space is full at that spacing)."""
    total = train + val + test
    min_distance = 0.5 * digit_spacing() if min_distance is None else float(min_distance)
    digits = get_templates().x
    limit = np.abs(digits).max()
    k_draw, k_split = jax.random.split(jax.random.key(seed))
    kept = [np.asarray(d) for d in digits]
    draw = jax.jit(draw_templates, static_argnums=(1, 2))
    drawn = 0
    while len(kept) < NUM_CLASSES + total:
        if drawn >= max_candidates:
            raise ValueError(f"only {len(kept) - NUM_CLASSES} of {total} templates at distance >= "
                             f"{min_distance:.3f} in {max_candidates} candidates; ask for fewer")
        batch = np.asarray(draw(jax.random.fold_in(k_draw, drawn // CANDIDATES_PER_ROUND), CANDIDATES_PER_ROUND,
                                lengthscale), np.float64)
        drawn += CANDIDATES_PER_ROUND
        for c in batch[np.abs(batch).max(axis=1) <= limit]:  # the greedy packing is sequential by nature
            if template_distance(c[None], np.stack(kept))[0].min() >= min_distance:
                kept.append(c)
                if len(kept) == NUM_CLASSES + total:
                    break
    new = np.stack(kept[NUM_CLASSES:]).astype(np.float32)
    new = new[np.asarray(jax.random.permutation(k_split, total))]
    return TemplateBank(train=new[:train], val=new[train:train + val], test=new[train + val:],
                        min_distance=min_distance)


# ----------------------------------------------------------------------------------------------------------------
# tasks
def _split(x: jax.Array, classes: jax.Array, n_way: int, n_shot: int, n_query: int) -> FewShotTask:
    """``x (N, K+Q, 40)`` -> the task (support first, class-major)."""
    labels = jnp.arange(n_way, dtype=jnp.int32)
    return FewShotTask(x[:, :n_shot].reshape(n_way * n_shot, -1), jnp.repeat(labels, n_shot),
                       x[:, n_shot:].reshape(n_way * n_query, -1), jnp.repeat(labels, n_query),
                       classes.astype(jnp.int32))


def sample_task(key: jax.Array, templates: jax.Array, n_way: int, n_shot: int, n_query: int,
                config: DatasetConfig | None = None) -> FewShotTask:
    """An N-way K-shot task of new classes: N distinct rows of ``templates (C, 12)``, ``K + Q`` fresh examples
    of each rendered by the generator's recipe (`sampler.render` with ``config``)."""
    k_classes, k_render = jax.random.split(key)
    classes = jax.random.choice(k_classes, templates.shape[0], (n_way,), replace=False)
    rows = jnp.repeat(jnp.arange(n_way), n_shot + n_query)
    x = render(k_render, jnp.asarray(templates)[classes], rows, config)
    return _split(x.reshape(n_way, n_shot + n_query, -1), classes, n_way, n_shot, n_query)


def sample_real_task(key: jax.Array, x: jax.Array, y: jax.Array, n_way: int, n_shot: int,
                     n_query: int) -> FewShotTask:
    """An N-way K-shot task of digits: N distinct digits, ``K + Q`` distinct rows of each from ``x (M, 40)``,
    ``y (M,)`` (every digit needs at least K + Q rows: check with `check_real_rows`)."""
    k_classes, k_rows = jax.random.split(key)
    digits = jax.random.choice(k_classes, NUM_CLASSES, (n_way,), replace=False)
    # uniform scores on this digit's rows, 2 elsewhere: the K+Q smallest are a uniform draw without replacement
    scores = jnp.where(jnp.asarray(y)[None] == digits[:, None], jax.random.uniform(k_rows, (n_way, y.shape[0])), 2.0)
    rows = jax.lax.top_k(-scores, n_shot + n_query)[1]  # (N, K+Q)
    return _split(jnp.asarray(x)[rows], digits, n_way, n_shot, n_query)


def check_real_rows(y: np.ndarray, n_shot: int, n_query: int) -> None:
    """Raise ``ValueError`` when a digit has fewer than ``K + Q`` rows in ``y``."""
    counts = np.bincount(np.asarray(y), minlength=NUM_CLASSES)
    if counts.min() < n_shot + n_query:
        raise ValueError(f"digit {int(counts.argmin())} has {int(counts.min())} rows, fewer than K + Q = "
                         f"{n_shot + n_query}")


__all__ = ["LENGTHSCALE", "MAX_SHIFT", "FewShotTask", "TemplateBank", "check_real_rows", "digit_spacing",
           "draw_templates", "sample_real_task", "sample_task", "template_bank", "template_distance"]
