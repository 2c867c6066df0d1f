"""The learned optimiser: a tiny run end to end; at its initial meta-parameters it is Adam."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax.studies import learned_optimizer as study
from mnist1d_jax.studies.learned_optimizer import net as lopt


def test_tiny_run(run_quick, tmp_path):
    record, saved = run_quick("learned_optimizer")
    main = saved["main"]
    assert np.shape(main["learned"]["losses"]) == (2, 8) and np.shape(main["adam"]["test_acc"]) == (2,)
    assert set(saved["settings"]) == {"cnn"} and saved["meta_training"]["size"] == 6 * 4 + 4 + 4 * 2 + 2 + 1
    assert (tmp_path / "learned_optimizer" / "learned_optimizer.png").exists()
    assert len(study.report_rows(saved)) == 4


def test_at_its_initial_meta_parameters_the_learned_optimiser_is_adam():
    """Output layer zero: Δθ = −η·m̂/√v̂, Adam with β₁ = 0.9 (up to where ε enters)."""
    theta = lopt.init_meta(jax.random.key(0), 8, 1e-3)
    params = {"w": jax.random.normal(jax.random.key(1), (5, 3))}
    ours, adam = lopt.learned_optimizer(theta, 10), optax.adam(1e-3)
    s1, s2 = ours.init(params), adam.init(params)
    for i in range(3):
        g = {"w": jax.random.normal(jax.random.key(2 + i), (5, 3))}
        u1, s1 = ours.update(g, s1, params)
        u2, s2 = adam.update(g, s2, params)
        np.testing.assert_allclose(u1["w"], u2["w"], rtol=1e-4)


def test_the_update_curve_is_adams_at_the_start():
    theta = lopt.init_meta(jax.random.key(0), 8)
    grads = jnp.linspace(-2, 2, 9)
    np.testing.assert_allclose(lopt.update_curve(theta, grads, momentum=0.5), -0.5 * np.ones(9), rtol=1e-6)
