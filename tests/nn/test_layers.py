"""The layers: PReLU and the activation registry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.nn.layers import ACTIVATIONS, PReLU, make_activation


def test_prelu():
    m = PReLU(num_parameters=3, axis=0)
    v = m.init(jax.random.key(0), jnp.ones((3, 2)))
    np.testing.assert_allclose(v["params"]["slope"], 0.25)
    y = m.apply(v, jnp.array([[-4.0, 2.0]] * 3))
    np.testing.assert_allclose(y, [[-1.0, 2.0]] * 3)


def test_activations_by_name_or_callable():
    x = jnp.array([-1.0, 0.5])
    np.testing.assert_allclose(make_activation("relu", 2, -1)(x), [0.0, 0.5])
    f = lambda z: 2 * z  # noqa: E731
    assert make_activation(f, 2, -1) is f
    assert "gelu" in ACTIVATIONS
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("relux", 2, -1)
