"""Masks as pytrees: layer-wise magnitude / random pruning, adjacency, mask images, exact compaction."""

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core import masks as M
from mnist1d_jax.nn.models import MLP, init_params


def _params(width=24, seed=0):
    return init_params(MLP(width=width), jax.random.key(seed))


def test_round_91_counts_match_the_paper():
    p = jax.eval_shape(lambda: _params(500))
    sizes = {k: sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(v)) for k, v in p.items()}
    assert sizes == {"Dense_0": 20500, "Dense_1": 250500, "Dense_2": 5010}
    counts = {k: int(np.floor(91 / 99 * n)) for k, n in sizes.items()}
    assert {k: sizes[k] - counts[k] for k in sizes} == {"Dense_0": 1657, "Dense_1": 20243, "Dense_2": 405}


def test_magnitude_mask_drops_the_smallest_per_layer_and_is_nested():
    p = _params()
    counts = M.prune_counts(0.5, p)
    mask = M.magnitude_mask(p, counts)
    for name, sub in p.items():
        vals = np.concatenate([np.abs(np.ravel(v)) for v in jax.tree_util.tree_leaves(sub)])
        keep = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(mask[name])]) > 0
        assert (~keep).sum() == counts[name]
        assert vals[keep].min() > vals[~keep].max()
    # pruning the masked weights further keeps a subset (the lottery masks are nested)
    mask2 = M.magnitude_mask(p, M.prune_counts(0.8, p), mask)
    for a, b in zip(jax.tree_util.tree_leaves(mask2), jax.tree_util.tree_leaves(mask), strict=True):
        assert np.all(np.asarray(a) <= np.asarray(b))
    assert abs(M.density(mask2)["Dense_1"] - 0.2) < 0.01


def test_random_mask_same_counts_and_traced_counts_under_jit():
    p = _params()
    counts = M.prune_counts(0.7, p)
    r1 = M.random_mask(jax.random.key(1), p, counts)
    r2 = jax.jit(M.random_mask)(jax.random.key(2), p, {k: jnp.int32(v) for k, v in counts.items()})
    for name in p:
        n = sum(np.size(v) for v in jax.tree_util.tree_leaves(p[name]))
        for r in (r1, r2):
            assert sum(float(np.sum(v)) for v in jax.tree_util.tree_leaves(r[name])) == n - counts[name]
    assert not np.array_equal(r1["Dense_1"]["kernel"], r2["Dense_1"]["kernel"])
    eager = M.magnitude_mask(p, counts)
    jitted = jax.jit(M.magnitude_mask)(p, counts)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(eager),
                                                    jax.tree_util.tree_leaves(jitted), strict=True))


def test_rewind_and_prune_convenience():
    p = _params()
    mask = M.prune(p, 0.5)
    rewound = M.rewind(p, mask)
    assert np.all((np.asarray(rewound["Dense_1"]["kernel"]) == 0) == (np.asarray(mask["Dense_1"]["kernel"]) == 0))
    assert M.density(M.prune(p, 0.3, "random", key=jax.random.key(0)))["total"] < 0.71


def test_adjacency_by_hand_and_the_original_slip():
    a = np.zeros((2, 8))
    a[0, 2:6] = 1  # one run of 4: 3 pairs, 2 triples, 1 quadruple
    a[1, [0, 2, 4]] = 1  # no neighbours
    adj = M.adjacency(a)
    assert np.allclose(adj["p2"]["per_unit"], [3 / 8, 0])
    assert np.allclose(adj["p3"]["per_unit"], [2 / 8, 0])
    assert np.allclose(adj["p4"]["per_unit"], [1 / 8, 0])
    assert adj["p2"]["mean"] == 3 / 16
    # the slip: the original's lottery p4 takes its fourth factor from the random mask
    assert M.adjacency_p4_original_slip(a, np.zeros_like(a)) == 0.0
    assert M.adjacency_p4_original_slip(a, a) == adj["p4"]["mean"]


def test_sorted_mask_image():
    a = np.zeros((3, 5))
    a[1, 0:3] = 1  # two adjacent pairs: first
    a[2, [0, 2, 4]] = 1  # no pairs, three kept: second
    img = M.sorted_mask_image(a)
    assert img.shape == (5, 3)
    assert np.array_equal(img[:, 0], a[1]) and np.array_equal(img[:, 1], a[2]) and not img[:, 2].any()


def test_compacted_residual_mlp_is_the_full_model():
    width = 24
    p = _params(width)
    mask = M.random_mask(jax.random.key(3), p, M.prune_counts(0.85, p))
    # make some units dead on purpose: units 0-5 are never read (no outgoing weights), 6-9 get no input
    mask["Dense_2"]["kernel"] = mask["Dense_2"]["kernel"].at[:6].set(0)
    mask["Dense_1"]["kernel"] = mask["Dense_1"]["kernel"].at[:6].set(0)
    mask["Dense_0"]["kernel"] = mask["Dense_0"]["kernel"].at[:, 6:10].set(0)
    mask["Dense_0"]["bias"] = mask["Dense_0"]["bias"].at[6:10].set(0)
    units, n_out = M.compact_layout([mask], width, granularity=4)
    assert units.shape[1] < width
    x = jax.random.normal(jax.random.key(4), (50, 40))
    full = MLP(width=width).apply({"params": M.apply_mask(p, mask)}, x)
    pc, mc = M.compact_residual(p, units[0], n_out), M.compact_residual(mask, units[0], n_out)
    compact = MLP(width=units.shape[1], residual_outputs=n_out).apply({"params": M.apply_mask(pc, mc)}, x)
    np.testing.assert_allclose(compact, full, rtol=1e-5, atol=1e-6)
    # a layout that keeps every unit but cuts the second layer's outputs is exact too
    units_all, n_out_all = M.compact_layout([mask], width, granularity=20)
    assert units_all.shape[1] == width and n_out_all == 20 and sorted(units_all[0]) == list(range(width))
    pa, ma = M.compact_residual(p, units_all[0], 20), M.compact_residual(mask, units_all[0], 20)
    cut = MLP(width=width, residual_outputs=20).apply({"params": M.apply_mask(pa, ma)}, x)
    np.testing.assert_allclose(cut, full, rtol=1e-5, atol=1e-6)
    # gradients of the dropped parameters are exactly zero in the full model, so scattering back is exact
    def loss(q):
        return jnp.sum(MLP(width=width).apply({"params": M.apply_mask(q, mask)}, x) ** 2)
    g = jax.grad(loss)(p)
    back = M.expand_residual(M.compact_residual(g, units[0], n_out), jax.tree_util.tree_map(jnp.zeros_like, g),
                             units[0], n_out)
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(back), strict=True):
        np.testing.assert_array_equal(a, b)


def test_prune_refuses_a_sparsity_outside_0_1():
    import pytest

    p = _params(8)
    for bad in (-0.1, 1.5, float("nan"), "0.5"):
        with pytest.raises(ValueError, match="sparsity"):
            M.prune(p, bad)
