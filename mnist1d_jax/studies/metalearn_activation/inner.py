"""The inner problem of the learned-activation study (``metalearn_activation``), in plain functions over pytrees.

f(x) = ELU(x) + 0.2·g(x), g a scalar tanh MLP 1→H₁→…→1 (default 1→100→100→1; the notebook's 1→100→1 is
``g_hidden=(100,)``). Inner model: Dense 40→128, f, + 0.1·(2U−1) hidden noise shared over the batch, Dense
128→10, trained by a differentiable RMSProp variant for 301 steps. `inner_problem` states it as a
`meta.InnerProblem` (meta-objective: the mean of the last 200 inner losses; metrics: the trained model's test
accuracy), which every estimator of `mnist1d_jax.meta` takes.

Plain functions rather than Flax modules: the activation is applied to 100×128 scalars per inner step and
the meta-gradient runs through all of it, so the code keeps every matmul explicit and float32. The operands of
the inner model's and g's products pass through ``precision.emulate`` (the matmul precision policy; the identity
under the default float32), and the hand-written backward pass reuses the rounded forward operands, as autodiff
of the rounded forward pass would.

The activation functions themselves (f, g, the baselines, the tabulated g) live in `activations`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from mnist1d_jax import meta as metalib
from mnist1d_jax.runtime.precision import emulate
from mnist1d_jax.studies.metalearn_activation.activations import (
    BASELINES,
    dense_init,
    g_apply,
    hermite,
    learned_activation,
    piecewise_linear,
    uniform_noise,
)


@dataclasses.dataclass(frozen=True)
class InnerConfig:
    """The inner procedure. Shapes (widths, steps, batch) are static; nothing here is traced."""

    g_hidden: tuple[int, ...] = (100, 100)  # (100,) = the original notebook's 1→100→1
    g_scale: float = 0.2
    g_noise: bool = True  # the original quirk: g's hidden units also get the (1, width) noise
    noise: float = 0.1
    hidden: int = 128
    inner_steps: int = 301
    batch_size: int = 100
    inner_lr: float = 0.01
    rms_decay: float = 0.4
    rms_eps: float = 1e-8
    objective_from: int = 101  # meta-objective: mean of the inner losses at steps 101..300
    test_examples: int = 500
    # Approximation option (default off = exact): evaluate g and g' on `g_table` uniform nodes in
    # [-g_table_range, g_table_range] once per inner step and cubic-Hermite interpolate them at the 12,800
    # hidden units (linear extrapolation outside). Tested against the exact path in tests/test_meta.py.
    g_table: int | None = None
    g_table_range: float = 12.0


def init_model(key, hidden: int = 128) -> dict:
    """Inner model parameters: Dense 40→hidden and Dense hidden→10 (6,538 parameters at 128)."""
    k1, k2 = jax.random.split(key)
    return {"l1": dense_init(k1, 40, hidden), "l2": dense_init(k2, hidden, 10)}


class ActivationTask(NamedTuple):
    """The context of one run: everything fixed across its outer steps (common random numbers).

    ``x [T, B, 40]``, ``y [T, B]`` the sequential batches; ``keys [T]`` the per-step noise keys;
    ``params0`` the inner init; ``x_test [N, 40]``, ``y_test [N]``; ``test_key`` the test-time noise key.
    """

    x: jax.Array
    y: jax.Array
    keys: jax.Array
    params0: dict
    x_test: jax.Array
    y_test: jax.Array
    test_key: jax.Array


def make_task(key, x_train, y_train, x_test, y_test, cfg: InnerConfig) -> ActivationTask:
    """Sequential batches ``(B·s) mod N`` from index 0, a fixed inner init and fixed noise keys."""
    k_init, k_noise, k_test = jax.random.split(key, 3)
    n = x_train.shape[0]
    idx = (jnp.arange(cfg.inner_steps)[:, None] * cfg.batch_size + jnp.arange(cfg.batch_size)) % n
    return ActivationTask(
        x=jnp.asarray(x_train, jnp.float32)[idx],
        y=jnp.asarray(y_train, jnp.int32)[idx],
        keys=jax.random.split(k_noise, cfg.inner_steps),
        params0=init_model(k_init, cfg.hidden),
        x_test=jnp.asarray(x_test[: cfg.test_examples], jnp.float32),
        y_test=jnp.asarray(y_test[: cfg.test_examples], jnp.int32),
        test_key=k_test,
    )


def forward(params, x, key, act: Callable, noise: float):
    """Logits ``[B, 10]``: Dense, act(h, key), shared hidden noise, Dense. `act` gets the key for g's noise."""
    k_hidden, k_act = jax.random.split(key)
    h = emulate(x) @ emulate(params["l1"]["w"]) + params["l1"]["b"]
    a = act(h, k_act) + uniform_noise(k_hidden, h.shape[-1], noise)
    return emulate(a) @ emulate(params["l2"]["w"]) + params["l2"]["b"]


def xent(logits, labels):
    """Mean softmax cross-entropy of ``logits [B, 10]`` against integer ``labels [B]``."""
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


def make_act(cfg: InnerConfig, kind: str = "learned") -> Callable:
    """``act(meta, h, key)``: the learned f (meta = g's params), a baseline (meta ignored) or a PWL fit (meta =
    hinge coefficients)."""
    if kind == "learned":
        g_key = (lambda k: k) if cfg.g_noise else (lambda k: None)
        return lambda m, h, k: learned_activation(m, h, g_key(k), g_scale=cfg.g_scale, noise=cfg.noise)
    if kind == "pwl":
        return lambda m, h, k: piecewise_linear(m, h)
    fn = BASELINES[kind]
    return lambda m, h, k: fn(h)


def value_and_derivative(act: Callable) -> Callable:
    """``(m, h, key) -> (f(h), f'(h))`` for an elementwise activation, by forward mode (one tangent of ones).

    For g this propagates the tangent through the same layers as the value, so f' costs one extra matmul per
    layer instead of a reverse pass, and the outer reverse mode sees one straight-line computation.
    """
    return lambda m, h, k: jax.jvp(lambda z: act(m, z, k), (h,), (jnp.ones_like(h),))


def make_act_fd(cfg: InnerConfig, kind: str = "learned") -> Callable:
    """``(m, h, key) -> (f(h), f'(h))``: exact by forward mode, or (learned, ``cfg.g_table``) tabulated."""
    act = make_act(cfg, kind)
    if kind != "learned" or cfg.g_table is None:
        return value_and_derivative(act)
    nodes = jnp.linspace(-cfg.g_table_range, cfg.g_table_range, cfg.g_table, dtype=jnp.float32)

    def act_fd(m, h, k):
        g_key = k if cfg.g_noise else None
        gv, gd = jax.jvp(lambda z: g_apply(m, z, g_key, cfg.noise), (nodes,), (jnp.ones_like(nodes),))
        gh, dgh = hermite(gv, gd, -cfg.g_table_range, cfg.g_table_range, h)
        e, de = jax.jvp(jax.nn.elu, (h,), (jnp.ones_like(h),))
        return e + cfg.g_scale * gh, de + cfg.g_scale * dgh

    return act_fd


def loss_and_grad(act_fd: Callable, m, params, x, y, key, noise: float):
    """Cross-entropy and its gradient w.r.t. the inner params, written out by hand (exact).

    The model is two dense layers around f, so the backward pass needs only f and f' on the hidden
    pre-activations; writing it out lets g be evaluated once per step (value and slope together) instead of
    an autodiff forward + backward through g, and keeps the second-order graph of the meta-gradient small.
    """
    k_hidden, k_act = jax.random.split(key)
    x_r, w1, w2 = emulate(x), emulate(params["l1"]["w"]), emulate(params["l2"]["w"])  # the policy's operands
    h = x_r @ w1 + params["l1"]["b"]  # [B, H]
    fa, dfa = act_fd(m, h, k_act)
    a = fa + uniform_noise(k_hidden, h.shape[-1], noise)
    a_r = emulate(a)
    logits = a_r @ w2 + params["l2"]["b"]  # [B, 10]
    logp = jax.nn.log_softmax(logits)
    onehot = jax.nn.one_hot(y, logits.shape[-1], dtype=logits.dtype)
    loss = -jnp.mean(jnp.sum(onehot * logp, -1))
    d2 = (jnp.exp(logp) - onehot) / x.shape[0]  # dL/dlogits
    dh = (d2 @ w2.T) * dfa  # dL/dh
    grads = {"l1": {"w": x_r.T @ dh, "b": dh.sum(0)}, "l2": {"w": a_r.T @ d2, "b": d2.sum(0)}}
    return loss, grads


@jax.custom_jvp
def safe_sqrt(v: jax.Array) -> jax.Array:
    """``sqrt(v)`` for v ≥ 0 whose derivative at v = 0 is 0 instead of ∞ (elsewhere the usual 1/(2√v)).

    In the RMSProp step v can reach exactly 0: v ≥ 0.6·g² with v₀ = 1, so this needs every gradient of a
    parameter to underflow (|g| < 1e-19, g² flushed to zero) for ~100 steps, e.g. an inner hidden unit pushed
    far into the flat negative tail of f. The update g/(√v + ε) is then 0/ε and its derivative is finite, but
    the chain rule through √v forms 0·∞ = NaN in the meta-gradient. The v-path's true contribution in that
    limit is 0 (it is ∝ g·ġ/ε², with g = 0); the forward values are unchanged bit for bit.
    """
    return jnp.sqrt(v)


@safe_sqrt.defjvp
def _safe_sqrt_jvp(primals, tangents):
    (v,), (v_dot,) = primals, tangents
    r = jnp.sqrt(v)
    positive = r > 0
    return r, jnp.where(positive, 0.5 * v_dot / jnp.where(positive, r, 1.0), 0.0)


def rmsprop(params, grads, v, cfg: InnerConfig):
    """The study's RMSProp variant: v ← ρv + (1−ρ)g², θ ← θ − lr·g/(√v + ε) (√ with a finite slope at 0)."""
    v = jax.tree.map(lambda v, g: cfg.rms_decay * v + (1 - cfg.rms_decay) * g * g, v, grads)
    params = jax.tree.map(lambda p, g, v: p - cfg.inner_lr * g / (safe_sqrt(v) + cfg.rms_eps), params, grads, v)
    return params, v


def _inner_step(act_fd: Callable, cfg: InnerConfig) -> Callable:
    """``step(meta, (params, v), (x, y, key)) -> ((params, v), loss)``: one RMSProp step of the inner model."""

    def step(m, state, batch):
        params, v = state
        x, y, key = batch
        loss, grads = loss_and_grad(act_fd, m, params, x, y, key, cfg.noise)
        return rmsprop(params, grads, v, cfg), loss

    return step


def _test_accuracy(params, meta, task: ActivationTask, act: Callable, cfg: InnerConfig) -> jax.Array:
    logits = forward(params, task.x_test, task.test_key, lambda h, k: act(meta, h, k), cfg.noise)
    return jax.lax.stop_gradient(100.0 * jnp.mean(jnp.argmax(logits, -1) == task.y_test))


def _start(task: ActivationTask):
    return task.params0, jax.tree.map(jnp.ones_like, task.params0)  # RMSProp's v starts at 1 (the original)


def inner_run(meta, task: ActivationTask, cfg: InnerConfig, act: Callable, *, checkpoint: bool = True,
              act_fd: Callable | None = None):
    """Train the inner model with activation ``act(meta, ·)``; returns (losses [T], test accuracy %)."""
    act_fd = value_and_derivative(act) if act_fd is None else act_fd
    (params, _), losses = metalib.unroll(_inner_step(act_fd, cfg), _start(task), (task.x, task.y, task.keys),
                                         meta, checkpoint=checkpoint)
    return losses, _test_accuracy(params, meta, task, act, cfg)


def objective_weights(cfg: InnerConfig) -> jax.Array:
    """``[T]`` weights of the meta-objective: the mean of the inner losses from step ``objective_from`` on."""
    t = jnp.arange(cfg.inner_steps)
    return (t >= cfg.objective_from).astype(jnp.float32) / (cfg.inner_steps - cfg.objective_from)


def inner_problem(cfg: InnerConfig) -> metalib.InnerProblem:
    """The study's inner run as a `meta.InnerProblem`: meta g's parameters; context the run's `ActivationTask`
    (the key is unused: batches, init and noise are fixed, common random numbers); state ``(params, v)``; step t
    the RMSProp step on batch t with its noise key; weights the meta-objective's (`objective_weights`); metrics
    the trained model's test accuracy (%). Every estimator of `mnist1d_jax.meta` takes it: ``meta.exact(...,
    overflow_safe=True)`` is the paper's meta-gradient, ``meta.truncated(..., window)`` the study's default."""
    act, step = make_act(cfg, "learned"), _inner_step(make_act_fd(cfg, "learned"), cfg)

    def step_t(gp, state, t, key, task: ActivationTask):
        return step(gp, state, (task.x[t], task.y[t], task.keys[t]))

    def metrics(gp, state, key, task: ActivationTask):
        return {"test_acc": _test_accuracy(state[0], gp, task, act, cfg)}

    return metalib.InnerProblem(lambda gp, key, task: _start(task), step_t, cfg.inner_steps,
                                objective_weights(cfg), metrics=metrics)
