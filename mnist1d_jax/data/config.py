"""`DatasetConfig`: every knob of the MNIST-1D generator, with the paper's defaults, validated on construction.

Defaults are those of the original package (the paper's hyperparameter table omits scale_coeff = 0.4).
Every invalid value raises a `ValueError` naming the field, the value and what is allowed; nothing is silently
shrunk or rounded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass
from typing import Any

from mnist1d_jax.data.templates import NUM_CLASSES
from mnist1d_jax.runtime.validation import ConfigError

# Schema version of the config as written into files and cache keys. Bump it when a field changes meaning.
CONFIG_VERSION = 1


def _fail(field: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"DatasetConfig.{field}={value!r} is invalid: {allowed}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_int(field: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if not _is_int(value):
        _fail(field, value, f"must be an integer >= {minimum}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        _fail(field, value, f"must be an integer {bound}")
    return int(value)


# Scales beyond this make no dataset (the signal drowns, or float64 overflows when the values are squared).
MAX_SCALE = 1e6


def _check_nonnegative(field: str, value: Any) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0
            or value > MAX_SCALE):
        _fail(field, value, f"must be a finite real number in [0, {MAX_SCALE:g}]")
    return float(value)


@dataclass(frozen=True)
class DatasetConfig:
    """How to generate an MNIST-1D dataset. The defaults reproduce the paper's frozen dataset exactly.

    Attributes:
      num_samples: total examples (train + test); a multiple of 10 (one tenth per class).
      train_split: fraction of examples in the training set, in the open interval (0, 1); the first
        ``int(num_samples * train_split)`` shuffled examples train, the rest test. Both sets must be non-empty.
      template_len: added to ``padding[1]`` to give the working length ``L`` that every padded template is
        stretched to (the templates themselves always have 12 points, as in the original).
      padding: inclusive range ``(low, high)`` of zeros appended to a template, ``0 <= low <= high``.
      scale_coeff: amplitude factor drawn from ``1 + scale_coeff * (U - 0.5)``, U uniform on [0, 1).
      max_translation: circular right shift drawn uniformly from ``{0, ..., max_translation - 1}``;
        between 1 and ``L`` (the original treats shifts >= L inconsistently, so they are refused).
      corr_noise_scale: std of the white noise that is Gaussian-smoothed (sigma 2) into the background.
      iid_noise_scale: std of the white noise added everywhere.
      shear_scale: the added linear ramp's coefficient is ``shear_scale * (U - 0.5)``.
      shuffle_seq: permute the ``final_seq_length`` positions (one permutation for all examples).
      final_seq_length: length of each example after resampling, >= 2.
      seed: seed of NumPy's legacy Mersenne-Twister stream, in [0, 2**32 - 1].
    """

    num_samples: int = 5000
    train_split: float = 0.8
    template_len: int = 12
    padding: tuple[int, int] = (36, 60)
    scale_coeff: float = 0.4
    max_translation: int = 48
    corr_noise_scale: float = 0.25
    iid_noise_scale: float = 0.02
    shear_scale: float = 0.75
    shuffle_seq: bool = False
    final_seq_length: int = 40
    seed: int = 42

    def __post_init__(self) -> None:
        values = self._validated()
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _validated(self) -> dict[str, Any]:
        v: dict[str, Any] = {}
        v["num_samples"] = _check_int("num_samples", self.num_samples, NUM_CLASSES)
        if v["num_samples"] % NUM_CLASSES:
            _fail("num_samples", self.num_samples, f"must be a multiple of {NUM_CLASSES} (one tenth per class)")
        split = self.train_split
        if isinstance(split, bool) or not isinstance(split, numbers.Real) or not 0 < split < 1:
            _fail("train_split", split, "must be a real number in the open interval (0, 1)")
        v["train_split"] = float(split)
        num_train = int(v["num_samples"] * v["train_split"])
        if not 0 < num_train < v["num_samples"]:
            _fail(
                "train_split",
                split,
                f"gives {num_train} training and {v['num_samples'] - num_train} test examples out of "
                f"num_samples={v['num_samples']}; both sets must be non-empty",
            )
        v["template_len"] = _check_int("template_len", self.template_len, 1)
        pad = self.padding
        if (
            isinstance(pad, (str, bytes))
            or not hasattr(pad, "__len__")
            or len(pad) != 2
            or not all(_is_int(p) for p in pad)
        ):
            _fail("padding", pad, "must be a pair of integers (low, high) with 0 <= low <= high")
        if not 0 <= pad[0] <= pad[1]:
            _fail("padding", pad, "must satisfy 0 <= low <= high (an inclusive range of zeros to append)")
        v["padding"] = (int(pad[0]), int(pad[1]))
        working_length = v["template_len"] + v["padding"][1]
        if working_length < 2:
            _fail("template_len", self.template_len, "template_len + padding[1] must be >= 2")
        v["scale_coeff"] = _check_nonnegative("scale_coeff", self.scale_coeff)
        v["max_translation"] = _check_int("max_translation", self.max_translation, 1, working_length)
        v["corr_noise_scale"] = _check_nonnegative("corr_noise_scale", self.corr_noise_scale)
        v["iid_noise_scale"] = _check_nonnegative("iid_noise_scale", self.iid_noise_scale)
        v["shear_scale"] = _check_nonnegative("shear_scale", self.shear_scale)
        if not isinstance(self.shuffle_seq, bool):
            _fail("shuffle_seq", self.shuffle_seq, "must be True or False")
        v["shuffle_seq"] = self.shuffle_seq
        v["final_seq_length"] = _check_int("final_seq_length", self.final_seq_length, 2)
        v["seed"] = _check_int("seed", self.seed, 0, 2**32 - 1)
        return v

    # ---- derived sizes -------------------------------------------------------------------------------------
    @property
    def working_length(self) -> int:
        """``L = template_len + padding[1]``: the length every example has before the final resampling."""
        return self.template_len + self.padding[1]

    @property
    def num_train(self) -> int:
        return int(self.num_samples * self.train_split)

    @property
    def num_test(self) -> int:
        return self.num_samples - self.num_train

    # ---- (de)serialisation ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields (``padding`` as a list)."""
        d = dataclasses.asdict(self)
        d["padding"] = list(self.padding)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetConfig:
        """Inverse of `to_dict`; unknown keys raise a `ConfigError` (a file from another tool, or a typo)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown DatasetConfig field(s) {unknown}; known fields are {sorted(known)}")
        d = dict(d)
        if "padding" in d and isinstance(d["padding"], list):
            d["padding"] = tuple(d["padding"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def fingerprint(self) -> str:
        """A short stable hash of the config: the cache key."""
        payload = json.dumps({"version": CONFIG_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> DatasetConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
