"""DatasetConfig: defaults, validation (every invalid value names the field), serialisation."""

import dataclasses

import pytest

from mnist1d_jax import ConfigError, DatasetConfig


def test_defaults_are_the_papers():
    c = DatasetConfig()
    assert (c.num_samples, c.train_split, c.template_len, c.padding) == (5000, 0.8, 12, (36, 60))
    assert (c.scale_coeff, c.max_translation, c.corr_noise_scale, c.iid_noise_scale) == (0.4, 48, 0.25, 0.02)
    assert (c.shear_scale, c.shuffle_seq, c.final_seq_length, c.seed) == (0.75, False, 40, 42)
    assert (c.working_length, c.num_train, c.num_test) == (72, 4000, 1000)


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("num_samples", 1234, "multiple of 10"),
        ("num_samples", 0, ">= 10"),
        ("num_samples", 5000.0, "integer"),
        ("num_samples", True, "integer"),
        ("num_samples", "5000", "integer"),
        ("train_split", 0.0, "open interval"),
        ("train_split", 1.0, "open interval"),
        ("train_split", -0.5, "open interval"),
        ("train_split", 0.0001, "non-empty"),
        ("train_split", "0.8", "open interval"),
        ("template_len", 0, ">= 1"),
        ("padding", (60, 36), "low <= high"),
        ("padding", (-1, 5), "low <= high"),
        ("padding", (1, 2, 3), "pair of integers"),
        ("padding", (1.5, 3), "pair of integers"),
        ("padding", "36", "pair of integers"),
        ("scale_coeff", -0.1, "in [0, 1e+06]"),
        ("scale_coeff", float("nan"), "in [0, 1e+06]"),
        ("scale_coeff", 1e308, "in [0, 1e+06]"),
        ("max_translation", 0, "in [1, 72]"),
        ("max_translation", 73, "in [1, 72]"),
        ("corr_noise_scale", -1.0, "in [0, 1e+06]"),
        ("iid_noise_scale", float("inf"), "in [0, 1e+06]"),
        ("shear_scale", -0.75, "in [0, 1e+06]"),
        ("shear_scale", 1e300, "in [0, 1e+06]"),
        ("shuffle_seq", 1, "True or False"),
        ("final_seq_length", 1, ">= 2"),
        ("seed", -1, "[0, 4294967295]"),
        ("seed", 2**32, "[0, 4294967295]"),
    ],
)
def test_invalid_values_name_field_value_and_rule(field, value, fragment):
    with pytest.raises(ValueError) as info:
        DatasetConfig(**{field: value})
    message = str(info.value)
    assert isinstance(info.value, ConfigError)
    assert f"DatasetConfig.{field}=" in message and repr(value) in message and fragment in message


def test_working_length_of_two_is_the_minimum():
    with pytest.raises(ValueError, match="template_len"):
        DatasetConfig(template_len=1, padding=(0, 0), max_translation=1)
    assert DatasetConfig(template_len=2, padding=(0, 0), max_translation=1).working_length == 2


def test_frozen_and_normalised():
    c = DatasetConfig(padding=[30, 40])
    assert c.padding == (30, 40)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.seed = 1
    with pytest.raises(ValueError, match="seed"):
        c.replace(seed=-3)


def test_round_trip_and_fingerprint():
    c = DatasetConfig(num_samples=100, shuffle_seq=True)
    assert DatasetConfig.from_dict(c.to_dict()) == c
    assert c.fingerprint() == DatasetConfig.from_dict(c.to_dict()).fingerprint()
    assert c.fingerprint() != DatasetConfig().fingerprint()
    with pytest.raises(ConfigError, match="unknown DatasetConfig field"):
        DatasetConfig.from_dict({**c.to_dict(), "url": "x"})
