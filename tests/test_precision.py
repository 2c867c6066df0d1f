"""The matmul precision policy: names and their sources, exact rounding, the identity under float32, the layers'
reduced forward pass and straight-through derivatives, one compile per setting, configs, provenance."""

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from mnist1d_jax.core.runs import TrainConfig
from mnist1d_jax.core.step import create_train_state, make_optimizer, train_step
from mnist1d_jax.core.sweeps import SweepConfig
from mnist1d_jax.nn import conv
from mnist1d_jax.nn.conv import conv1d_clb
from mnist1d_jax.nn.init import init_params
from mnist1d_jax.nn.models import CNN, MLP, BiGRU, Logistic
from mnist1d_jax.runtime import precision
from mnist1d_jax.runtime.precision import (
    current,
    emulate,
    resolve,
    round_mantissa,
    set_precision,
    tolerance,
    use_precision,
)
from mnist1d_jax.runtime.validation import ConfigError


@pytest.fixture
def policy(monkeypatch):
    """A clean policy (no env var, JAX's setting unset), restored afterwards."""
    monkeypatch.delenv(precision.ENV_VAR, raising=False)
    before = jax.config.jax_default_matmul_precision
    jax.config.update("jax_default_matmul_precision", None)
    yield monkeypatch
    jax.config.update("jax_default_matmul_precision", before)


def _rel(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


# ---------------------------------------------------------------------------------------------------------------
# names and where they come from
# ---------------------------------------------------------------------------------------------------------------
def test_resolve_explicit_then_in_effect_then_env_then_float32(policy):
    assert resolve() == "float32"
    policy.setenv(precision.ENV_VAR, "bf16")
    assert resolve() == "bf16" and resolve("tf32") == "tf32"
    policy.setenv(precision.ENV_VAR, " tf32 ")  # stray spaces from a shell are fine
    assert resolve() == "tf32"
    with use_precision("float32"):  # an enclosing block beats the environment (TrainConfig().precision is None)
        assert resolve() == "float32" and resolve("bf16") == "bf16"
    assert set_precision("bf16") == "bf16"  # and so does the process's setting
    assert resolve() == "bf16" and current() == "bf16" and jax.config.jax_default_matmul_precision == "bfloat16"


@pytest.mark.parametrize("name", ["x", "bfloat16", "FLOAT32", 32])
def test_a_bad_name_is_one_line_listing_the_choices(policy, name):
    with pytest.raises(ValueError, match=r"is not a matmul precision: use one of float32, tf32, bf16$") as info:
        resolve(name)
    assert "\n" not in str(info.value)


def test_a_bad_environment_variable_names_it(policy):
    policy.setenv(precision.ENV_VAR, "fp8")
    with pytest.raises(ValueError, match=r"^\$MNIST1D_JAX_PRECISION='fp8' is not a matmul precision"):
        resolve()
    with pytest.raises(ValueError):
        set_precision()
    assert jax.config.jax_default_matmul_precision is None  # nothing changed


def test_use_precision_and_current(policy):
    assert current() == precision.BACKEND_DEFAULT  # unset: said as it is, not guessed
    with use_precision("tf32") as name:
        assert name == "tf32" and current() == "tf32" and jax.config.jax_default_matmul_precision == "tensorfloat32"
        with use_precision("bf16"):
            assert current() == "bf16"
        assert current() == "tf32"
    assert current() == precision.BACKEND_DEFAULT
    with jax.default_matmul_precision("highest"):
        assert current() == "float32"
    with jax.default_matmul_precision("BF16_BF16_F32_X3"):
        assert current() == "jax:BF16_BF16_F32_X3"


def test_tolerance_per_setting(policy):
    assert tolerance("float32") == 1e-5 < tolerance("tf32") == 1e-2 < tolerance("bf16") == 5e-2
    with use_precision("bf16"):
        assert tolerance() == 5e-2
    assert tolerance() == 1e-5  # the backend default on a CPU is exact float32


# ---------------------------------------------------------------------------------------------------------------
# the rounding
# ---------------------------------------------------------------------------------------------------------------
def test_tf32_and_bf16_rounding_of_known_values():
    tf32 = np.asarray(round_mantissa(jnp.float32([1 + 2**-10, 1 + 2**-11, 1 + 3 * 2**-11, 1 + 2**-11 + 2**-20,
                                                  -(1 + 3 * 2**-11), 2**-11 + 2**-22]), 10))
    # kept; a tie to even (down); a tie to even (up); above the tie; the sign is kept; small values alike
    np.testing.assert_array_equal(tf32, np.float32([1 + 2**-10, 1, 1 + 2**-9, 1 + 2**-10, -(1 + 2**-9), 2**-11]))
    bf16 = np.asarray(round_mantissa(jnp.float32([1 + 2**-7, 1 + 2**-8, 1 + 3 * 2**-8, 3.4e38, np.inf, -np.inf]), 7))
    np.testing.assert_array_equal(bf16, np.float32([1 + 2**-7, 1, 1 + 2**-6, np.inf, np.inf, -np.inf]))
    assert np.isnan(np.asarray(round_mantissa(jnp.float32([np.nan]), 7))).all()


def test_bf16_rounding_equals_a_bfloat16_conversion():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=20_000) * 10.0 ** rng.integers(-30, 30, 20_000)).astype(np.float32)
    ties = (1 + (2 * rng.integers(0, 64, 2000) + 1) * 2.0**-8).astype(np.float32)  # exact halfway cases
    x = np.concatenate([x, ties, -ties])
    ours = np.asarray(jax.jit(round_mantissa, static_argnums=1)(x, 7))
    np.testing.assert_array_equal(ours, x.astype(ml_dtypes.bfloat16).astype(np.float32))
    with use_precision("bf16"):
        np.testing.assert_array_equal(np.asarray(jax.jit(emulate)(x)), ours)


def test_emulate_is_the_very_operand_under_float32(policy):
    x = jnp.arange(3.0)
    same = []

    def f(t):
        same.append(emulate(t) is t)
        return emulate(t)

    for setting in (None, "float32"):
        with jax.default_matmul_precision(setting and precision.JAX_NAMES[setting]):
            assert emulate(x) is x
            assert not jax.make_jaxpr(f)(x).eqns  # the traced program gains no operation
    with use_precision("bf16"):
        ints = jnp.arange(3)
        assert emulate(ints) is ints  # only float32 operands are rounded
    assert same == [True, True]


def test_emulate_is_straight_through_in_every_mode():
    x = jnp.float32([1 + 2**-8 + 2**-12, 3.0, -0.3])
    c = jnp.float32([2.0, -1.0, 0.5])

    @jax.jit  # one compile for all of it
    def every_mode(x):
        return (emulate(x), jax.grad(lambda x: jnp.sum(c * emulate(x)))(x), jax.jvp(emulate, (x,), (c,))[1],
                jax.vmap(emulate)(x[:, None])[:, 0], jax.hessian(lambda x: jnp.sum(emulate(x) ** 2))(x))

    with use_precision("bf16"):
        value, grad, tangent, batched, hessian = every_mode(x)
    np.testing.assert_array_equal(value, round_mantissa(x, 7))
    assert not np.array_equal(value, x)
    np.testing.assert_array_equal(grad, c)
    np.testing.assert_array_equal(tangent, c)
    np.testing.assert_array_equal(batched, value)
    np.testing.assert_array_equal(hessian, 2 * jnp.eye(3))


# ---------------------------------------------------------------------------------------------------------------
# the layers under a reduced setting
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", [Logistic(), CNN()], ids=["dense", "cnn"])
def test_reduced_forward_differs_plausibly_and_its_gradient_is_finite(model):
    x = jax.random.normal(jax.random.key(0), (64, 40))
    params = init_params(model, jax.random.key(1))
    f = jax.jit(lambda p: model.apply({"params": p}, x))
    c = jnp.cos(jnp.arange(10.0))
    loss = lambda p: jnp.sum(jnp.tanh(model.apply({"params": p}, x)) * c)  # noqa: E731
    outs = {}
    for name in precision.NAMES:
        with use_precision(name):
            outs[name] = f(params)
    ref = outs["float32"]
    tf32, bf16 = _rel(outs["tf32"], ref), _rel(outs["bf16"], ref)
    # measured: tf32 ~3e-4, bf16 ~2.5e-3 (the rounding's unit is 8x larger in bf16)
    assert 3e-5 < tf32 < bf16 / 3 and 3e-4 < bf16 < 1e-2 < tolerance("bf16")
    with use_precision("bf16"):
        g_jit = jax.jit(jax.grad(loss))(params)
        # Eager: every operation reads the setting as it runs (op by op is slow for the CNN's many small ops: the
        # Dense layer checks it, the CNN's convolution rule is checked against lax's below).
        g_eager = jax.grad(loss)(params) if isinstance(model, Logistic) else g_jit
    for a, b in zip(jax.tree.leaves(g_jit), jax.tree.leaves(g_eager), strict=True):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_cpu_convolutions_rule_is_the_derivative_of_the_rounded_product():
    """Under bf16 the custom_jvp kernel's gradient equals autodiff of lax's convolution of the rounded operands."""
    h = jax.random.normal(jax.random.key(0), (5, 19, 7))
    w = jax.random.normal(jax.random.key(1), (4, 5, 3))
    b = jnp.arange(4.0)

    def grads(impl):
        return jax.grad(lambda h, w: jnp.sum(jnp.sin(impl(h, w))), argnums=(0, 1))(h, w)

    with use_precision("bf16"):
        ours = jax.jit(lambda: grads(lambda h, w: conv1d_clb(h, w, b, 2, 1)))()
        ref = jax.jit(lambda: grads(lambda h, w: conv._conv_bias_xla(emulate(h), emulate(w), b, 2, 1)))()
    for a, r in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4)


def test_the_grus_forward_mode_and_its_transpose_agree_under_bf16():
    """jax.jvp works through the GRU's custom rule under bf16, is linear, and its transpose (reverse mode) gives
    the same directional derivative."""
    model = BiGRU()
    x = jax.random.normal(jax.random.key(2), (5, 40))
    params = init_params(model, jax.random.key(3))
    t = jax.tree.map(lambda p: jnp.cos(jnp.arange(p.size, dtype=jnp.float32)).reshape(p.shape), params)
    f = lambda p: jnp.sum(jnp.tanh(model.apply({"params": p}, x)))  # noqa: E731

    def both(p, t):
        value, tangent = jax.jvp(f, (p,), (t,))
        g = jax.grad(f)(p)
        return value, tangent, sum(jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(t), strict=True))

    with use_precision("bf16"):
        value, tangent, through_grad = jax.jit(both)(params, t)
        program = str(jax.make_jaxpr(both)(params, t))
    assert program.count("bitcast_convert_type") >= 6  # w_h and h rounded in the forward pass and the rule
    assert np.isfinite(tangent) and tangent != 0
    np.testing.assert_allclose(through_grad, tangent, rtol=1e-4)  # the rule's transpose: the same derivative
    reference = jax.jit(f)(params)  # under the backend default: exact float32 on this CPU
    assert value != reference and abs(value - reference) < tolerance("bf16") * abs(reference)


def test_a_train_step_compiles_once_per_setting(policy):
    """JAX keeps the setting in the jit cache key: the same setting reuses the program, another compiles anew."""
    model = MLP(width=16, depth=1, residual=False)
    state = create_train_state(jax.random.key(0), model, make_optimizer("adam", 1e-2, 0.0, 0.9, "constant", 10))
    batch = (jax.random.normal(jax.random.key(1), (20, 40)), jnp.arange(20) % 10)
    traced = []

    @jax.jit
    def step(state, batch):
        traced.append(current())
        return train_step(state, batch)[1]["loss"]

    with use_precision("float32"):
        a, b = step(state, batch), step(state, batch)
    with use_precision("bf16"):
        c = step(state, batch)
    with use_precision("float32"):
        d = step(state, batch)
    assert traced == ["float32", "bf16"]
    assert a == b == d and c != a


# ---------------------------------------------------------------------------------------------------------------
# configs, provenance, the study runner
# ---------------------------------------------------------------------------------------------------------------
def test_configs_validate_the_precision():
    assert TrainConfig().precision is None and TrainConfig(precision="bf16").precision == "bf16"
    with pytest.raises(ConfigError, match=r"TrainConfig.precision='x' is invalid: must be one of 'float32', 'tf32'"):
        TrainConfig(precision="x")
    with pytest.raises(ConfigError, match=r"SweepConfig.precision='fp16' is invalid"):
        SweepConfig(precision="fp16")


def test_provenance_and_the_study_state_folder_name_the_setting(policy, tmp_path):
    from mnist1d_jax.report.runner import state_folder, study_module
    from mnist1d_jax.runtime.results import devices

    with use_precision("bf16"):
        assert devices()["matmul_precision"] == "bf16"
    module = study_module("tsne")
    assert state_folder(tmp_path, module).name == ".tsne_state"  # float32: the folder of every earlier run
    assert state_folder(tmp_path, module, "bf16").name == ".tsne_state_bf16"
