"""make_dataset reproduces the paper's frozen data and the original package for any valid config."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mnist1d.data import get_dataset_args
from mnist1d.data import make_dataset as reference_make_dataset
from mnist1d.utils import ObjectView

from mnist1d_jax import DatasetConfig, make_dataset
from mnist1d_jax.data.generator import DatasetSizeError

TOLERANCE = 1e-14  # the acceptance criterion is 1e-12; we hold ourselves to 1e-14


def reference(config: DatasetConfig) -> dict:
    """The original package's output for `config` (it seeds the global stream; restore it afterwards)."""
    state = np.random.get_state()
    try:
        args = get_dataset_args(as_dict=True) | config.to_dict()
        return reference_make_dataset(ObjectView(args))
    finally:
        np.random.set_state(state)


def assert_matches(ours, theirs):
    np.testing.assert_array_equal(ours.y, theirs["y"])
    np.testing.assert_array_equal(ours.y_test, theirs["y_test"])
    for key in ("x", "x_test", "t"):
        np.testing.assert_allclose(getattr(ours, key), theirs[key], rtol=0, atol=TOLERANCE, err_msg=key)
    for key in ("x", "t", "y"):
        np.testing.assert_allclose(getattr(ours.templates, key), theirs["templates"][key], rtol=0, atol=1e-15)


@pytest.fixture(scope="module")
def default():
    return make_dataset()


def test_default_config_reproduces_the_frozen_file(default, frozen):
    np.testing.assert_array_equal(default.y, frozen["y"])
    np.testing.assert_array_equal(default.y_test, frozen["y_test"])
    for key in ("x", "x_test", "t"):
        assert np.abs(getattr(default, key) - frozen[key]).max() <= TOLERANCE, key
    np.testing.assert_array_equal(default.templates.x, frozen["templates_x"])
    np.testing.assert_array_equal(default.templates.t, frozen["templates_t"])
    np.testing.assert_array_equal(default.templates.y, frozen["templates_y"])
    assert default.x.dtype == np.float64 and default.y.dtype == np.int64


def test_fingerprints_of_the_specification(default):
    np.testing.assert_allclose(default.x[0, :2], [-0.3320056673693902, -0.4719103656557236], atol=1e-15)
    np.testing.assert_allclose(default.x.sum(), -51.78746787509559, atol=1e-9)
    np.testing.assert_array_equal(default.y[:20], [2, 6, 4, 5, 6, 6, 6, 0, 3, 1, 6, 9, 4, 3, 4, 5, 1, 9, 0, 3])
    np.testing.assert_array_equal(np.bincount(default.y_test), [102, 104, 89, 106, 106, 98, 99, 96, 98, 102])
    assert default.raw_std == pytest.approx(0.15467803420593054, abs=1e-15)
    assert set(default.as_dict()) == {"x", "x_test", "y", "y_test", "t", "templates"}


def test_shuffled_positions_use_the_reference_permutation(default):
    shuffled = make_dataset(DatasetConfig(shuffle_seq=True))
    q = [19, 22, 4, 32, 17, 18, 28, 31, 11, 24, 23, 7, 25, 35, 34, 6, 3, 13, 12, 26, 1, 27, 20, 10, 36, 9, 37,
         29, 8, 30, 5, 38, 16, 15, 33, 39, 14, 21, 0, 2]
    np.testing.assert_array_equal(shuffled.seq_permutation, q)
    np.testing.assert_allclose(shuffled.x, default.x[:, q], rtol=0, atol=TOLERANCE)


@st.composite
def configs(draw):
    template_len = draw(st.integers(1, 20))
    low = draw(st.integers(0, 40))
    high = draw(st.integers(low, low + 30))
    assume(template_len + high >= 2)
    num_samples = 10 * draw(st.integers(1, 30))
    split = draw(st.floats(0.05, 0.95))
    assume(0 < int(num_samples * split) < num_samples)
    return DatasetConfig(
        num_samples=num_samples,
        train_split=split,
        template_len=template_len,
        padding=(low, high),
        scale_coeff=draw(st.floats(0, 1.5)),
        max_translation=draw(st.integers(1, template_len + high)),
        corr_noise_scale=draw(st.floats(0, 1)),
        iid_noise_scale=draw(st.floats(0, 0.5)),
        shear_scale=draw(st.floats(0, 2)),
        shuffle_seq=draw(st.booleans()),
        final_seq_length=draw(st.integers(2, 80)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_any_valid_config_matches_the_original_package(config):
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant dataset: the original divides 0 by 0
        ref = reference(config)
    if not np.all(np.isfinite(ref["x"])):  # constant raw values: the original divides 0 by 0
        with pytest.raises(DatasetSizeError, match="std 0"):
            make_dataset(config)
        return
    assert_matches(make_dataset(config), ref)


def test_a_constant_dataset_is_refused_where_the_original_gives_nan():
    """Found by the property test: no noise, scale or shear and length-1 templates make every raw value 0."""
    config = DatasetConfig(num_samples=10, train_split=0.5, template_len=1, padding=(2, 24), scale_coeff=0.0,
                           max_translation=4, corr_noise_scale=0.0, iid_noise_scale=0.0, shear_scale=0.0,
                           final_seq_length=2, seed=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(reference(config)["x"]).all()
    with pytest.raises(DatasetSizeError, match="std 0"):
        make_dataset(config)


@pytest.mark.parametrize(
    "config",
    [
        DatasetConfig(num_samples=1600, train_split=0.25),  # the double-descent split
        DatasetConfig(num_samples=2000, train_split=0.5),  # pooling, smallest size
        DatasetConfig(seed=43),  # lottery-ticket transfer data
    ],
    ids=["double-descent", "pooling-2k", "seed-43"],
)
def test_study_configs_match_the_original_package(config):
    assert_matches(make_dataset(config), reference(config))


def test_deterministic_and_leaves_the_global_stream_alone():
    np.random.seed(1234)
    before = np.random.get_state()
    a = make_dataset(DatasetConfig(num_samples=300))
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    b = make_dataset(DatasetConfig(num_samples=300))
    for key, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[key])


def test_rejects_anything_but_a_config():
    with pytest.raises(TypeError, match="DatasetConfig"):
        make_dataset({"num_samples": 100})


def test_datasets_beyond_the_memory_bound_are_refused_before_any_work(monkeypatch):
    from mnist1d_jax.data.generator import DatasetSizeError, estimated_bytes

    monkeypatch.setenv("MNIST1D_JAX_MAX_DATASET_GB", "0.001")
    assert estimated_bytes(DatasetConfig()) > 0.001 * 2**30
    with pytest.raises(DatasetSizeError, match="above the bound of 0.0 GB"):
        make_dataset(DatasetConfig())
    monkeypatch.setenv("MNIST1D_JAX_MAX_DATASET_GB", "lots")
    with pytest.raises(ValueError, match="not a number of GB"):
        make_dataset(DatasetConfig())
