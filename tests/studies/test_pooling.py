"""The pooling study: exact dataset sizes, the claims' logic, a tiny run end to end that resumes."""

import numpy as np
import pytest

from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import pooling


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
    assert again["runtime_this_process_s"] < record["runtime_s"]  # resumed: this process did little
    assert (tmp_path / "pooling" / "pooling_all_sizes.png").exists()


def test_bad_configs_name_the_field():
    with pytest.raises(ConfigError, match=r"PoolingConfig.sizes=\(2000, 1000\) is invalid: must be in increasing"):
        pooling.PoolingConfig(sizes=(2000, 1000))
    with pytest.raises(ConfigError, match="batch_size"):
        pooling.PoolingConfig(sizes=(100,), batch_size=200)


def test_one_program_per_variant_equals_a_run_per_size():
    """Sizes padded to one shape and vmapped train exactly as one `train_seeds` call per size."""
    import jax

    from mnist1d_jax.core.runs import train_seeds

    config = pooling.PoolingConfig(sizes=(200, 300), seeds=2, total_steps=20, eval_every=10, test_size=100,
                                   train_eval_examples=1000)
    keys = jax.random.split(jax.random.key(config.init_seed), config.seeds)
    datas = [pooling.size_data(size, config) for size in config.sizes]
    sets = pooling.padded_sizes(datas, config)
    assert sets["x"].shape == (2, 300, 40) and sets["rows"].tolist() == [200, 300]
    together = pooling.train_variant(keys, sets, pooling.train_config("max_pool", config))
    for i, data in enumerate(datas):
        _, metrics, summary = train_seeds(keys, data, pooling.train_config("max_pool", config))
        np.testing.assert_allclose(together["test_acc"][i], metrics["test_acc"], atol=1e-4)
        np.testing.assert_allclose(together["train_acc"][i], metrics["train_acc"], atol=1e-4)
        np.testing.assert_allclose(together["final_test_acc"][i], summary["final_test_acc"], atol=1e-4)


def test_training_accuracy_subset_is_the_first_examples():
    config = pooling.PoolingConfig(sizes=(200, 300), test_size=100, train_eval_examples=250)
    datas = [pooling.size_data(size, config) for size in config.sizes]
    sets = pooling.padded_sizes(datas, config)
    assert sets["n_eval"].tolist() == [200, 250] and sets["x_eval"].shape == (2, 250, 40)
    np.testing.assert_array_equal(sets["x_eval"][1], np.asarray(datas[1].x)[:250])
    assert not sets["x_eval"][0, 200:].any()  # padding, ignored by the count
