"""The learning-rate study's pieces: the fused forward-mode meta-gradient equals autodiff (alone and vmapped),
flat memory with checkpointing, the sweep's starting rates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax import meta
from mnist1d_jax.studies import metalearn_lr as lr_study


@pytest.fixture(scope="module")
def tiny():
    """A 6-step unroll of the learning-rate study's 40→8→10 tanh MLP on random data: (task, batches, params0)."""
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    batches = (jax.random.normal(kx, (6, 16, 40)), jax.random.randint(ky, (6, 16), 0, 10))
    task = lr_study.inner_task(hidden=8)
    return task, batches, task.init(kp)


def test_memory_stays_flat_with_checkpointing():
    rows = lr_study.memory_profile(steps=(20, 200), checkpoint=(True,))
    small, big = (r["temp_bytes"] for r in rows)
    assert big < 4 * small + 2_000_000  # grows by a carry per step, not by every activation


def _grad(est, lr, params0):
    return jax.jit(est.grad)(lr, (), jax.random.key(0), params0)


def test_fused_lr_meta_gradient_equals_autodiff(tiny):
    """The fused estimator equals forward mode (``mode="forward"``) and reverse mode (``"reverse"``) of the
    study's inner problem."""
    task, batches, params0 = tiny
    (value, aux), grad, _ = _grad(lr_study.fused_estimator(batches), jnp.float32(0.4), params0)
    problem = lr_study.inner_problem(task, batches)
    for ref in (meta.forward(problem), meta.exact(problem, checkpoint=False)):
        (ref_value, ref_aux), ref_grad, _ = _grad(ref, jnp.float32(0.4), params0)
        np.testing.assert_allclose(value, ref_value, rtol=1e-6)
        np.testing.assert_allclose(aux["losses"], ref_aux["losses"], rtol=1e-6)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-4)


def test_fused_lr_meta_gradient_vmapped_over_runs_equals_each_run(tiny):
    """Under vmap the first layer's products fold the run axis into one product: the numbers must not move."""
    task, batches, _ = tiny
    est = lr_study.fused_estimator(batches)
    params = jax.vmap(lambda k: task.init(k))(jax.random.split(jax.random.key(1), 3))
    lrs = jnp.array([0.05, 0.4, 1.5])
    keys = jax.random.split(jax.random.key(0), 3)
    (values, _), grads, _ = jax.jit(jax.vmap(lambda lr, k, p: est.grad(lr, (), k, p)))(lrs, keys, params)
    for i in range(3):
        (value, _), grad, _ = _grad(est, lrs[i], jax.tree.map(lambda a, i=i: a[i], params))
        np.testing.assert_allclose(values[i], value, rtol=1e-6)
        np.testing.assert_allclose(grads[i], grad, rtol=1e-5)


def test_lr_sweep_cycles_its_starting_rates_over_the_inits():
    config = lr_study.LRStudyConfig(sweep_init_seeds=(1, 2, 3))
    assert lr_study.runs_of(config) == [("trial", 0, 1.5), ("trial", 0, 0.15), ("sweep", 1, 1.5),
                                        ("sweep", 2, 0.15), ("sweep", 3, 1.5)]




def test_the_study_sgd_is_optax_sgd_forward():
    """`plain_sgd` is ``optax.sgd`` up to float32 rounding: the same updates (it only keeps the records' order
    of operations in the meta-gradient)."""
    g = {"w": jnp.array([0.3, -1.7, 2e-3])}
    ours, _ = lr_study.plain_sgd(0.62).update(g, lr_study.plain_sgd(0.62).init(g))
    theirs, _ = optax.sgd(0.62).update(g, optax.sgd(0.62).init(g))
    np.testing.assert_array_equal(ours["w"], theirs["w"])


def test_estimator_config_is_validated():
    with pytest.raises(ValueError, match="estimators"):
        lr_study.LRStudyConfig(estimators=("exact", "bogus"))
    with pytest.raises(ValueError, match="truncation_window"):
        lr_study.LRStudyConfig(inner_steps=10, truncation_window=4)
    lr_study.LRStudyConfig(inner_steps=10, truncation_window=4, estimators=("exact", "es"))  # no window needed


def test_tiny_run(run_quick, tmp_path):
    record, saved = run_quick("metalearn_lr")
    lrs = np.asarray(saved["curves"]["learning_rate"])
    assert lrs.shape == (4, 3)  # 2 trials + 2 sweep inits, 3 outer steps
    assert set(saved["converged_lr"]["trials"]) == {"1.5", "0.15"}
    assert (tmp_path / "metalearn_lr" / "metalearn_lr.png").exists()
    assert (tmp_path / "metalearn_lr" / "metalearn_lr_estimators.png").exists()
    assert list(saved["estimators"]) == list(lr_study.QUICK.estimators)
    for est in saved["estimators"].values():
        assert np.asarray(est["learning_rate"]).shape == (2, 3)
        assert set(est["final_lr"]) == {"1.5", "0.15"} and np.all(np.isfinite(list(est["final_lr"].values())))
        assert est["cost"]["forward"] > 0
    assert len(lr_study.report_rows(saved)) == 4 + len(saved["estimators"])

    # the estimators leave the paper-faithful part bit for bit as it was
    bare, _ = run_quick("metalearn_lr", estimators=())
    assert bare["estimators"] == {}
    same = set(bare) - {"config", "estimators", "runtime", "runtime_s", "runtime_this_process_s", "cpu_s", "provenance"}
    assert same == {"study", "runs", "curves", "converged_lr", "converged_objective", "memory"}
    jax.tree.map(np.testing.assert_array_equal, {k: bare[k] for k in same}, {k: record[k] for k in same})
