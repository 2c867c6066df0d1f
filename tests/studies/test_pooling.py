"""The pooling study: exact dataset sizes, the claims' logic, a tiny run end to end that resumes."""

import numpy as np
import pytest

from mnist1d_jax.studies import pooling
from mnist1d_jax.validation import ConfigError


def test_pooling_sizes_are_exact():
    for size in pooling.PoolingConfig().sizes:
        config = pooling.dataset_config(size)
        assert (config.num_train, config.num_test) == (size, 1000)


def test_pooling_claims_logic():
    runs = {}
    for size, accs in {1000: (60, 57, 78, 77, 77), 50000: (97, 95, 96, 96, 96.5)}.items():
        for variant, acc in zip(pooling.VARIANTS, accs, strict=True):
            runs[f"{size}/{variant}"] = {"final_test_acc": [acc, acc]}
    claims = pooling.claims({"runs": runs})
    assert claims["advantage_shrinks"] and claims["pooling_hurts_at_largest_size"]
    assert claims["l2_beats_max_at_largest_size"]
    assert not pooling.claims({"runs": {k: v for k, v in runs.items() if k.startswith("1000/")}})["complete_sizes"][1:]


def test_tiny_run_and_resume(run_quick, tmp_path):
    record, _ = run_quick("pooling")
    assert set(record["runs"]) == {f"1000/{v}" for v in pooling.VARIANTS}
    assert len(record["step"]) == 3  # T = 20, E = 10
    again, _ = run_quick("pooling")  # every (size, variant) comes from the study's store: same numbers, fast
    np.testing.assert_equal(again["runs"], record["runs"])
    assert again["runtime_s"] < record["runtime_s"]
    assert (tmp_path / "pooling" / "pooling_all_sizes.png").exists()


def test_bad_configs_name_the_field():
    with pytest.raises(ConfigError, match=r"PoolingConfig.sizes=\(2000, 1000\) is invalid: must be in increasing"):
        pooling.PoolingConfig(sizes=(2000, 1000))
    with pytest.raises(ConfigError, match="batch_size"):
        pooling.PoolingConfig(sizes=(100,), batch_size=200)
