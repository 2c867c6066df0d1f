"""Neural collapse study: a tiny run end to end, the layer features, the measurement on a collapsed network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.nn.init import init_params
from mnist1d_jax.nn.models import CNN
from mnist1d_jax.studies import neural_collapse as study


def test_tiny_run(run_quick):
    record, saved = run_quick("neural_collapse")
    assert saved["epochs"] == [1, 2] and saved["cka_layers"] == ["input", "conv1", "conv2", "conv3", "logits"]
    for split in ("train", "test"):
        for layer in study.LAYERS:
            v = np.asarray(saved["metrics"][f"{split}/{layer}/nc1_trace_ratio"])
            assert v.shape == (1, 2) and np.all((v > 0) & (v < 1))
        assert np.shape(saved["metrics"][f"{split}/conv3/nc4_agreement"]) == (1, 2)
    cka = np.asarray(saved["cka"])[0]
    np.testing.assert_allclose(np.diag(cka), 1.0, atol=1e-4)
    np.testing.assert_allclose(cka, cka.T, atol=1e-5)
    assert any("nc1_papyan" in r["quantity"] for r in study.report_rows(saved))


def test_layers_are_the_cnn_activations_with_the_same_parameters():
    params = init_params(CNN(), jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6, 40))
    layers, logits = CNN(return_layers=True).apply({"params": params}, x)
    assert [h.shape for h in layers] == [(6, 475), (6, 250), (6, 125)]
    np.testing.assert_array_equal(logits, CNN().apply({"params": params}, x))
    np.testing.assert_array_equal(layers[-1], CNN(head=False).apply({"params": params}, x))


def test_measure_routes_each_layer_and_split_to_its_metric():
    """Every key of ``measure`` equals the representation function on that split's layer features."""
    from mnist1d_jax.analysis import representations as rep
    from mnist1d_jax.data.splits import Data

    rng = np.random.default_rng(0)
    x, xt = (jnp.asarray(rng.normal(size=(n, 40)), jnp.float32) for n in (60, 40))
    data = Data(x, jnp.arange(60) % 10, xt, jnp.arange(40) % 10)
    params = init_params(CNN(), jax.random.key(0))
    out = jax.jit(study.measure)(params, data)
    layers, logits = CNN(return_layers=True).apply({"params": params}, xt)
    np.testing.assert_allclose(out["test/conv2/nc1_papyan"], rep.nc1(layers[1], data.y_test, 10, "papyan")
                               ["nc1_papyan"], rtol=1e-4)
    np.testing.assert_allclose(out["test/conv3/nc3_self_duality"],
                               rep.nc3(layers[2], data.y_test, params["Dense_0"]["kernel"].T, 10)
                               ["nc3_self_duality"], rtol=1e-4)
    np.testing.assert_allclose(out["test/conv3/nc4_agreement"], rep.nc4(layers[2], data.y_test, logits, 10,
                                                                        "agreement")["nc4_agreement"])
    np.testing.assert_allclose(out["test_error"], 100 * np.mean(np.argmax(logits, -1) != np.arange(40) % 10))
    assert "train/conv1/nc3_self_duality" not in out  # NC3 / NC4 only for the last layer
    assert float(out["train/conv1/nc1_trace_ratio"]) != float(out["test/conv1/nc1_trace_ratio"])


def test_train_config_measures_after_whole_epochs():
    config = study.CollapseConfig(epochs=10, eval_points=4)
    tc = config.train_config()
    assert tc.total_steps + 1 == 10 * 40 and tc.eval_at[-1] == tc.total_steps
    assert all((s + 1) % 40 == 0 for s in tc.eval_at)
    with pytest.raises(Exception, match="epochs"):
        study.CollapseConfig(epochs=0)
