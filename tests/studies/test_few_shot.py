"""Few-shot learning: a tiny run end to end, MAML's two meta-gradients, prototypes on separable tasks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax import meta
from mnist1d_jax.core.step import cross_entropy
from mnist1d_jax.data.new_classes import FewShotTask
from mnist1d_jax.report.runner import load_record, run_study
from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import few_shot as study
from mnist1d_jax.studies.few_shot import methods as fm

N, K, Q = 3, 2, 2


def test_tiny_run(tmp_path):
    record = run_study(study, study.QUICK, tmp_path)
    saved = load_record(study, tmp_path)
    assert set(saved["results"]) == set(study.METHODS)
    for method in study.METHODS:
        row = saved["results"][method]["1"]
        for family in study.FAMILIES:
            acc = saved["arrays"][f"{method}_1_{family}"]
            assert acc.shape == (study.QUICK.test_tasks,) and 0 <= acc.min() <= acc.max() <= 100
            assert row[family]["mean"] == pytest.approx(acc.mean()) and row[family]["ci95"] >= 0
        assert len(row["val_curve"]) == study.QUICK.outer_steps // study.QUICK.eval_every or method == "pretrain"
    assert saved["results"]["pretrain"]["1"]["lr"] in study.QUICK.finetune_lrs
    assert (tmp_path / "few_shot.png").exists()
    rows = study.report_rows(record)
    assert len(rows) == 4 * 2 + 1 + 4 and all("±" in r["ours"] for r in rows[:8])
    agreement = saved["gradient_agreement"]["1"]
    assert set(agreement) == {"init", "maml"} and -1 <= agreement["maml"]["cosine_of_means"] <= 1


def _fixed_task(key) -> FewShotTask:
    ks, kq, kc = jax.random.split(key, 3)
    centres = 2 * jax.random.normal(kc, (N, 40))
    sy, qy = jnp.repeat(jnp.arange(N), K), jnp.repeat(jnp.arange(N), Q)
    return FewShotTask(centres[sy] + jax.random.normal(ks, (N * K, 40)), sy,
                       centres[qy] + jax.random.normal(kq, (N * Q, 40)), qy, jnp.arange(N))


def test_second_order_maml_is_the_gradient_of_the_unroll_and_first_order_differs():
    task = _fixed_task(jax.random.key(0))
    draw = lambda key, context: context  # noqa: E731  (the task is the context)
    steps, lr = 2, 0.3
    problem = fm.maml_problem(draw, N, steps, lr)
    m = fm.init_classifier(jax.random.key(1), N)
    model = fm.classifier(N)

    def loss(p, x, y):
        return cross_entropy(model.apply({"params": p}, x), y)

    def unrolled(p):  # MAML written out: the gradient flows through both inner gradients
        for _ in range(steps):
            p = jax.tree.map(lambda a, g: a - lr * g, p, jax.grad(loss)(p, task.support_x, task.support_y))
        return loss(p, task.query_x, task.query_y)

    key = jax.random.key(2)
    (value, aux), g2, _ = jax.jit(meta.exact(problem).grad)(m, (), key, task)
    want = jax.jit(jax.grad(unrolled))(m)
    assert float(value) == pytest.approx(float(jax.jit(unrolled)(m)), rel=1e-5)
    for a, b in zip(jax.tree.leaves(g2), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-6)

    (value1, _), g1, _ = jax.jit(fm.first_order(problem).grad)(m, (), key, task)
    adapted = m
    for _ in range(steps):
        adapted = jax.tree.map(lambda a, g: a - lr * g, adapted, jax.grad(loss)(adapted, task.support_x,
                                                                                 task.support_y))
    first = jax.grad(loss)(adapted, task.query_x, task.query_y)
    assert float(value1) == pytest.approx(float(value), rel=1e-5)  # the same run, the same query loss
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(first), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-6)
    gap = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2), strict=True))
    assert gap > 1e-3  # the inner gradients' Jacobians matter
    # ... and vanish with the inner step size: then the two meta-gradients agree
    keys = jax.random.split(key, 2)
    tiny = fm.gradient_agreement(fm.maml_problem(draw, N, steps, 1e-4), m, keys, task, 2)
    assert tiny["cosine_of_means"] > 0.9999 and tiny["median_task_cosine"] > 0.9999
    assert tiny["exact_norm_max"] == pytest.approx(tiny["first_order_norm_max"], rel=1e-3)
    assert fm.gradient_agreement(problem, m, keys, task, 2)["cosine_of_means"] < 0.9999


def test_prototypes_classify_separable_tasks_perfectly():
    """Each class is one fixed curve (no noise): every query equals its class's prototype input."""
    def draw(key, context):
        centres = 3 * jax.random.normal(key, (N, 40))
        sy, qy = jnp.repeat(jnp.arange(N), K), jnp.repeat(jnp.arange(N), Q)
        return FewShotTask(centres[sy], sy, centres[qy], qy, jnp.arange(N))

    params = fm.trunk_params(fm.init_classifier(jax.random.key(0), N))
    acc = jax.vmap(lambda k: fm.proto_correct(params, draw, N, k, None))(jax.random.split(jax.random.key(1), 20))
    np.testing.assert_array_equal(acc, 1.0)


def test_ci95_and_config_rules():
    assert study.ci95([0.0, 100.0] * 50) == pytest.approx(1.96 * np.std([0.0, 100.0] * 50, ddof=1) / 10)
    with pytest.raises(ConfigError, match="n_way"):
        study.FewShotConfig(n_way=8, val_templates=6, test_templates=6)
    with pytest.raises(ConfigError, match="methods"):
        study.FewShotConfig(methods=("reptile",))
