"""From a dataset to training arrays: validation splits, input permutations and flips, the original's label noise."""

import numpy as np
import pytest

from mnist1d_jax.data.classes import use_classes
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.data.splits import (
    LOTTERY_SHUFFLE,
    SHUFFLE_PERMUTATION,
    Data,
    label_noise,
    prepare_data,
    select_classes,
)


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


# --------------------------------------------------------------------------------------------------------------
# Class subsets
# --------------------------------------------------------------------------------------------------------------
def test_a_class_subset_keeps_its_rows_and_holds_out_the_others_test_rows(frozen):
    full = prepare_data(frozen)
    d = prepare_data(frozen, classes="0-7")
    y, y_test = np.asarray(frozen["y"]), np.asarray(frozen["y_test"])
    # every kept digit's training and test rows, in their order; labels are the digits themselves
    np.testing.assert_array_equal(np.bincount(np.asarray(d.y), minlength=10)[:8], np.bincount(y, minlength=10)[:8])
    assert set(np.asarray(d.y).tolist()) == set(range(8)) and set(np.asarray(d.y_test).tolist()) <= set(range(8))
    np.testing.assert_array_equal(d.x, np.asarray(full.x)[y < 8])
    np.testing.assert_array_equal(d.x_test, np.asarray(full.x_test)[y_test < 8])
    # the held-out digits' test rows, and only those
    np.testing.assert_array_equal(d.x_held, np.asarray(full.x_test)[y_test >= 8])
    np.testing.assert_array_equal(d.y_held, y_test[y_test >= 8])
    assert len(d.y_test) + len(d.y_held) == len(y_test) and d.x_held.dtype == np.float32
    assert full.x_held is None and full.y_held is None  # all ten: nothing held out, the data as before


def test_the_validation_split_comes_first_then_the_subset():
    r = raw(n=200, n_test=50)
    full, d = prepare_data(r, 0.2, val_seed=1), prepare_data(r, 0.2, val_seed=1, classes=[0, 2, 4])
    for part in ("", "_val", "_test"):
        x, y = np.asarray(getattr(full, "x" + part)), np.asarray(getattr(full, "y" + part))
        keep = np.isin(y, [0, 2, 4])
        np.testing.assert_array_equal(getattr(d, "x" + part), x[keep])  # the full split's kept rows, in order
        np.testing.assert_array_equal(getattr(d, "y" + part), y[keep])
    assert len(d.y) + len(d.y_val) == 60 and len(d.y_val) > 0  # 3 digits x 20 training rows
    held = np.asarray(r["y_test"])[~np.isin(r["y_test"], [0, 2, 4])]
    np.testing.assert_array_equal(d.y_held, held)


def test_prepare_data_reads_no_ambient_setting(monkeypatch):
    """The class subset is an explicit argument: the environment does not change what prepare_data returns, and
    the deprecated block still works for one release, with a warning."""
    r = raw(n=40, n_test=20)
    monkeypatch.setenv("MNIST1D_JAX_CLASSES", "8-9")
    assert prepare_data(r).x_held is None and len(prepare_data(r).y) == 40  # all ten: the environment is ignored
    d = prepare_data(r, classes="8-9")
    assert set(np.asarray(d.y).tolist()) == {8, 9} and len(d.y_held) == 16
    with pytest.warns(DeprecationWarning, match="use_classes"), use_classes("8-9"):
        assert len(prepare_data(r).y_held) == 16
    assert prepare_data(r).x_held is None  # the block is over


def test_select_classes_on_any_data_and_narrowing():
    r = raw(n=30, n_test=20)
    host = Data(r["x"], r["y"], r["x_test"], r["y_test"])
    a = select_classes(host, "0-5")
    assert isinstance(a.x, np.ndarray) and set(a.y.tolist()) == set(range(6))  # NumPy stays NumPy
    assert sorted(set(a.y_held.tolist())) == [6, 7, 8, 9] and a.x_val is None
    b = select_classes(a, "0-2")  # narrowing: the newly held-out rows join the earlier ones
    assert sorted(set(b.y_held.tolist())) == list(range(3, 10))
    assert b.y_held[: len(a.y_held)].tolist() == a.y_held.tolist()
    assert len(b.y_test) + len(b.y_held) == 20
    with pytest.raises(ValueError, match=r"digits \[6\] were held out of this data already"):
        select_classes(a, "0-6")
    assert select_classes(host, "all") is host
    device = select_classes(prepare_data(r), (1, 3))
    assert not isinstance(device.x, np.ndarray) and np.asarray(device.y).tolist() == [1, 3, 1, 3, 1, 3]
    with pytest.raises(ValueError, match="given twice"):
        select_classes(host, "1,1")
