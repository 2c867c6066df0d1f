"""Lottery-ticket masks as pytrees shaped like the params, all pure functions.

A mask is a pytree of 0/1 float arrays with the same structure as a Flax ``params`` dict; the forward pass
uses ``params * mask`` (``core.step.TrainState.mask``), so pruned entries get zero gradient and zero Adam moments.

A *layer* is one top-level entry of the params dict (``{"Dense_0": {"kernel", "bias"}, ...}``). Pruning is
layer-wise as in the paper: the same fraction ``s`` of each layer's weights **and** biases, taken
together, is removed: ``floor(s * n_layer)`` entries with the lowest score. The paper concatenates the
PyTorch weight ``(out, in)`` row-major and then the bias; the order only matters for ties, which magnitude
scores (continuous values, previously pruned entries exactly 0 and always all dropped) and fresh uniform noise
never produce, so we concatenate our leaves as they come.

Counts are computed on the host in float64 (``prune_counts``), exactly as the original's ``int(s * n)``;
the mask functions take them as (possibly traced) integers, so one compiled program serves every round.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core.step import apply_mask

Array = jax.Array
PyTree = Any


# --------------------------------------------------------------------------------------------------------------
# Basics
# --------------------------------------------------------------------------------------------------------------
def ones_like(params: PyTree) -> PyTree:
    """The dense mask (every entry kept), float32 like the params."""
    return jax.tree_util.tree_map(lambda p: jnp.ones(jnp.shape(p), jnp.float32), params)


def rewind(theta0: PyTree, mask: PyTree) -> PyTree:
    """Rewinding to iteration 0: the initial weights with the new mask applied (pruned entries exactly 0)."""
    return apply_mask(theta0, mask)


def layer_sizes(params: PyTree) -> dict[str, int]:
    """Entries per layer (weights + biases), e.g. ``{"Dense_0": 20500, "Dense_1": 250500, "Dense_2": 5010}``."""
    return {name: sum(int(np.prod(np.shape(leaf))) for leaf in jax.tree_util.tree_leaves(sub))
            for name, sub in params.items()}


def prune_counts(sparsity: float, params: PyTree) -> dict[str, int]:
    """How many entries of each layer to prune at ``sparsity`` (host-side, float64: ``floor(s * n)``)."""
    return {name: int(math.floor(float(sparsity) * n)) for name, n in layer_sizes(params).items()}


def density(mask: PyTree) -> dict[str, float]:
    """Fraction of kept entries per layer and overall (``"total"``)."""
    out, kept, total = {}, 0.0, 0
    for name, sub in mask.items():
        leaves = jax.tree_util.tree_leaves(sub)
        k = float(sum(np.asarray(m).sum() for m in leaves))
        n = sum(int(np.size(m)) for m in leaves)
        out[name], kept, total = k / n, kept + k, total + n
    out["total"] = kept / total
    return out


# --------------------------------------------------------------------------------------------------------------
# Pruning
# --------------------------------------------------------------------------------------------------------------
def _layer_mask(scores: PyTree, n_prune: Array) -> PyTree:
    """Keep all but the ``n_prune`` lowest-scoring entries of one layer (its leaves scored together)."""
    leaves, treedef = jax.tree_util.tree_flatten(scores)
    flat = jnp.concatenate([jnp.ravel(s) for s in leaves])
    # rank of each entry in ascending score order (a stable sort: ties broken by position)
    ranks = jnp.zeros(flat.shape, jnp.int32).at[jnp.argsort(flat, stable=True)].set(
        jnp.arange(flat.size, dtype=jnp.int32))
    keep = (ranks >= n_prune).astype(jnp.float32)
    out, start = [], 0
    for s in leaves:
        out.append(keep[start:start + s.size].reshape(s.shape))
        start += s.size
    return jax.tree_util.tree_unflatten(treedef, out)


def mask_from_scores(scores: PyTree, counts: dict[str, Any]) -> PyTree:
    """Layer-wise pruning: in layer ``name`` drop the ``counts[name]`` lowest scores (counts may be traced)."""
    return {name: _layer_mask(sub, counts[name]) for name, sub in scores.items()}


def magnitude_scores(params: PyTree, mask: PyTree | None = None) -> PyTree:
    """The lottery criterion: ``|params * mask|`` (previously pruned entries score exactly 0)."""
    eff = params if mask is None else apply_mask(params, mask)
    return jax.tree_util.tree_map(jnp.abs, eff)


def random_scores(key: Array, params: PyTree) -> PyTree:
    """The random-ticket criterion: fresh ``Uniform(0, 1)`` scores (not nested across rounds)."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree_util.tree_unflatten(
        treedef, [jax.random.uniform(k, jnp.shape(p)) for k, p in zip(keys, leaves, strict=True)])


def magnitude_mask(params: PyTree, counts: dict[str, Any], mask: PyTree | None = None) -> PyTree:
    """Layer-wise magnitude pruning of the effective parameters ``params * mask``."""
    return mask_from_scores(magnitude_scores(params, mask), counts)


def random_mask(key: Array, params: PyTree, counts: dict[str, Any]) -> PyTree:
    """A random mask with the same per-layer number of pruned entries as ``magnitude_mask``."""
    return mask_from_scores(random_scores(key, params), counts)


def prune(params: PyTree, sparsity: float, criterion: str = "magnitude", key: Array | None = None,
          mask: PyTree | None = None) -> PyTree:
    """Convenience: the mask of ``criterion`` ("magnitude" | "random") at a Python-float ``sparsity`` in [0, 1]
    (the fraction of every layer's entries that is pruned)."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity <= 1:
        raise ValueError(f"prune: sparsity={sparsity!r} must be a fraction in [0, 1]")
    counts = prune_counts(sparsity, params)
    if criterion == "magnitude":
        return magnitude_mask(params, counts, mask)
    if criterion == "random":
        if key is None:
            raise ValueError("random pruning needs a key")
        return random_mask(key, params, counts)
    raise ValueError(f"criterion={criterion!r}: use 'magnitude' or 'random'")


# --------------------------------------------------------------------------------------------------------------
# Statistics and pictures of first-layer masks (the paper's panel g and its appendix figure)
# --------------------------------------------------------------------------------------------------------------
def run_products(a: np.ndarray, run: int) -> np.ndarray:
    """``prod_{i<run} A[:, j+i]`` for every window start j: ``(H, D) -> (H, D - run + 1)``."""
    a = np.asarray(a, np.float64)
    d = a.shape[1]
    out = np.ones((a.shape[0], d - run + 1))
    for i in range(run):
        out = out * a[:, i:d - run + 1 + i]
    return out


def adjacency(a: np.ndarray, runs=(2, 3, 4)) -> dict[str, dict[str, float]]:
    """Panel g: fraction of runs of ``r`` adjacent kept first-layer weights, per hidden unit.

    Args:
      a: ``(H, D)`` 0/1 first-layer mask, hidden units by input positions (biases excluded).
    Returns:
      ``{"p2": {"mean", "sem", "per_unit"}, ...}`` with ``p_r[k] = sum_j prod_{i<r} A[k, j+i] / D`` (divisor D,
      the input size, as the original) and ``sem = std / sqrt(H)``.
    """
    a = np.asarray(a)
    out = {}
    for r in runs:
        per_unit = run_products(a, r).sum(1) / a.shape[1]
        out[f"p{r}"] = {"mean": float(per_unit.mean()), "sem": float(per_unit.std() / math.sqrt(len(per_unit))),
                        "per_unit": per_unit}
    return out


def adjacency_p4_original_slip(lottery: np.ndarray, random: np.ndarray) -> float:
    """The original's lottery p4, whose fourth factor mistakenly comes from the *random* mask (kept to report
    how much the slip mattered; ``adjacency`` computes the correct product)."""
    lot, rnd = np.asarray(lottery, np.float64), np.asarray(random, np.float64)
    d = lot.shape[1]
    prod = lot[:, 0:d - 3] * lot[:, 1:d - 2] * lot[:, 2:d - 1] * rnd[:, 3:d]
    return float((prod.sum(1) / d).mean())


def sorted_mask_image(a: np.ndarray) -> np.ndarray:
    """The appendix figure's image of a first-layer mask: ``(H, D) -> (D, H)``, inputs vertical, units across.

    Columns are sorted by decreasing ``(vertically adjacent kept pairs) + 0.001 * (kept entries)``, so units
    with long runs of neighbouring inputs come first and empty units last.
    """
    a = np.asarray(a, np.float64)
    score = (a[:, 1:] * a[:, :-1]).sum(1) + 1e-3 * a.sum(1)
    order = np.argsort(-score, kind="stable")
    return a[order].T


__all__ = ["ones_like", "apply_mask", "rewind", "layer_sizes", "prune_counts", "density", "mask_from_scores",
           "magnitude_scores", "random_scores", "magnitude_mask", "random_mask", "prune", "run_products",
           "adjacency", "adjacency_p4_original_slip", "sorted_mask_image", "residual_unit_sets", "compact_layout",
           "compact_residual", "expand_residual", "compact_cost"]


# --------------------------------------------------------------------------------------------------------------
# Skipping dead work: compacting the residual MLP to the units a mask leaves alive
# --------------------------------------------------------------------------------------------------------------
# For h1 = relu(x W1 + b1), h2 = h1 + relu(h1 W2 + b2), logits = h2 W3 + b3 (the lottery MLP, Flax layout
# kernels (in, out)), a hidden unit k is
#   * needed as a first-layer unit (set U) if some incoming weight or its bias survives (else h1[k] = 0) AND
#     h1[k] is read somewhere (an outgoing W2 weight or an outgoing W3 weight via the residual);
#   * needed as a second-layer output (set O) if some W3 weight leaves it (else h2[k] is never read) AND
#     a2[k] can be non-zero (an incoming W2 weight from U or its bias survives).
# Every other parameter has an exactly zero gradient in the full model, so the full model would leave it at
# its initial value: training only the compacted parameters and scattering them back is the same computation
# (up to float summation order). The compacted layout is ``units = [O..., R...]`` (R = U \ O), so the residual
# adds a2 to the first |O| columns of h1 and the second layer is a (|O|+|R|) x |O| product instead of 500 x 500:
# the model ``nn.models.MLP(width=|O|+|R|, residual_outputs=|O|)``.
def residual_unit_sets(mask: PyTree) -> tuple[np.ndarray, np.ndarray]:
    """Host-side ``(O, R)`` unit index arrays of one residual-MLP mask (see the comment above)."""
    m1k, m1b = np.asarray(mask["Dense_0"]["kernel"]) > 0, np.asarray(mask["Dense_0"]["bias"]) > 0
    m2k, m2b = np.asarray(mask["Dense_1"]["kernel"]) > 0, np.asarray(mask["Dense_1"]["bias"]) > 0
    m3k = np.asarray(mask["Dense_2"]["kernel"]) > 0
    h1_alive = m1k.any(0) | m1b
    out_alive = m3k.any(1)
    u = h1_alive & (m2k.any(1) | out_alive)
    a2_alive = m2k[u].any(0) | m2b
    o = out_alive & a2_alive
    return np.flatnonzero(o), np.flatnonzero(u & ~o)


def compact_layout(masks: list[PyTree], width: int, granularity: int = 50) -> tuple[np.ndarray, int]:
    """One shared padded layout for several masks (one vmapped program): ``(units (S, nV) int32, n_out)``.

    ``n_out`` and ``nV - n_out`` are the largest ``|O|`` and ``|R|`` over the masks rounded up to ``granularity`` (few
    distinct shapes, so few compilations); padding slots hold ``width`` (out of range: gathers fill 0,
    scatters drop). If ``nV`` would reach ``width``, every unit is kept (``nV = width``) in the order O first,
    then the others, and only the second layer's outputs are cut to ``n_out`` (extra real units in the O
    slots are computed exactly as the full model would); ``n_out == width`` is the plain full model.
    """
    sets = [residual_unit_sets(m) for m in masks]
    n_out = min(width, max(granularity, -(-max(len(o) for o, _ in sets) // granularity) * granularity))
    n_rest = -(-max(len(r) for _, r in sets) // granularity) * granularity
    if n_out + n_rest >= width:
        units = np.empty((len(masks), width), np.int32)
        for i, (o, _) in enumerate(sets):
            units[i] = np.concatenate([o, np.setdiff1d(np.arange(width), o)])
        return units, n_out
    units = np.full((len(masks), n_out + n_rest), width, np.int32)
    for i, (o, r) in enumerate(sets):
        units[i, :len(o)] = o
        units[i, n_out:n_out + len(r)] = r
    return units, n_out


def compact_residual(tree: PyTree, units: Array, n_out: int) -> PyTree:
    """Gather the compacted parameters (or mask) of the residual MLP; ``units (nV,)``, first ``n_out`` = O."""
    def take(a, idx, axis):
        return jnp.take(a, idx, axis=axis, mode="fill", fill_value=0)
    out_units = units[:n_out]
    return {"Dense_0": {"kernel": take(tree["Dense_0"]["kernel"], units, 1),
                        "bias": take(tree["Dense_0"]["bias"], units, 0)},
            "Dense_1": {"kernel": take(take(tree["Dense_1"]["kernel"], units, 0), out_units, 1),
                        "bias": take(tree["Dense_1"]["bias"], out_units, 0)},
            "Dense_2": {"kernel": take(tree["Dense_2"]["kernel"], units, 0), "bias": tree["Dense_2"]["bias"]}}


def expand_residual(compact: PyTree, full: PyTree, units: Array, n_out: int) -> PyTree:
    """Scatter compacted parameters back into ``full`` (entries outside the layout keep ``full``'s values)."""
    out_units = units[:n_out]
    d0, d1, d2 = full["Dense_0"], full["Dense_1"], full["Dense_2"]
    return {"Dense_0": {"kernel": d0["kernel"].at[:, units].set(compact["Dense_0"]["kernel"], mode="drop"),
                        "bias": d0["bias"].at[units].set(compact["Dense_0"]["bias"], mode="drop")},
            "Dense_1": {"kernel": d1["kernel"].at[units[:, None], out_units[None, :]].set(
                            compact["Dense_1"]["kernel"], mode="drop"),
                        "bias": d1["bias"].at[out_units].set(compact["Dense_1"]["bias"], mode="drop")},
            "Dense_2": {"kernel": d2["kernel"].at[units].set(compact["Dense_2"]["kernel"], mode="drop"),
                        "bias": compact["Dense_2"]["bias"]}}


def compact_cost(n_units: int, n_out: int, width: int = 500, d_in: int = 40, k: int = 10) -> float:
    """Multiply-adds of the compacted forward pass relative to the full one."""
    return (d_in * n_units + n_units * n_out + k * n_units) / (d_in * width + width * width + k * width)
