"""From a dataset to training arrays: validation splits, input permutations and flips, the original's label noise."""

import numpy as np
import pytest

from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.data.splits import LOTTERY_SHUFFLE, SHUFFLE_PERMUTATION, Data, label_noise, prepare_data


def raw(n=20, n_test=5):
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(n, 40)), "y": np.arange(n) % 10, "x_test": rng.normal(size=(n_test, 40)),
            "y_test": np.arange(n_test) % 10}


def test_permutation_flip_and_dtypes():
    r = raw()
    d = prepare_data(r, permutation=np.arange(40)[::-1])
    assert isinstance(d, Data) and d.x.dtype == np.float32 and d.y.dtype == np.int32
    np.testing.assert_allclose(d.x, r["x"][:, ::-1].astype(np.float32))
    np.testing.assert_allclose(d.x_test, r["x_test"][:, ::-1].astype(np.float32))
    np.testing.assert_array_equal(prepare_data(r, flip=True).x, d.x)
    with pytest.raises(ValueError, match="permutation"):
        prepare_data(r, permutation=[0, 1, 2])


def test_validation_split_is_seeded_and_disjoint():
    r = raw(n=100)
    a, b = prepare_data(r, 0.1, val_seed=3), prepare_data(r, 0.1, val_seed=3)
    assert a.x.shape == (90, 40) and a.x_val.shape == (10, 40)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    rows = {tuple(row) for row in np.asarray(a.x)}
    assert not any(tuple(row) in rows for row in np.asarray(a.x_val))
    assert not np.array_equal(prepare_data(r, 0.1, val_seed=4).x_val, a.x_val)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="val_fraction"):
            prepare_data(r, bad)


def test_the_fixed_permutations_are_permutations():
    assert sorted(SHUFFLE_PERMUTATION) == list(range(40)) and sorted(LOTTERY_SHUFFLE) == list(range(40))
    assert SHUFFLE_PERMUTATION == tuple(np.random.RandomState(42).permutation(40))
    assert LOTTERY_SHUFFLE == tuple(np.random.RandomState(0).permutation(40))


def test_label_noise_matches_the_original_counts():
    config = DatasetConfig(num_samples=16000, train_split=0.25)
    y = make_dataset(config).y
    noisy, info = label_noise(y, config, 0.15)
    assert info == {"selected": 639, "changed": 577, "n": 4000}
    assert int((noisy != y).sum()) == 577
    assert label_noise(y, config, 0.0)[1]["changed"] == 0
