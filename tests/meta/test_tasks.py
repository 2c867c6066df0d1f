"""Inner problems as task objects: a zoo model and a loss."""

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core.step import cross_entropy
from mnist1d_jax.meta import classifier_task
from mnist1d_jax.nn.models import MLP


def test_classifier_task_is_the_zoo_model_under_its_loss():
    model = MLP(width=8, depth=1, residual=False, activation="tanh")
    task = classifier_task(model)
    params = task.init(jax.random.key(0))
    x, y = jax.random.normal(jax.random.key(1), (5, 40)), jnp.arange(5)
    np.testing.assert_allclose(task.loss(params, (x, y)), cross_entropy(model.apply({"params": params}, x), y))
    grads = jax.grad(task.loss)(params, (x, y))
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    many = jax.vmap(task.init)(jax.random.split(jax.random.key(2), 3))
    assert many["Dense_0"]["kernel"].shape == (3, 40, 8)
