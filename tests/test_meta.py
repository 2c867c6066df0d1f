"""mnist1d_jax.meta: meta-gradients through unrolled training, the outer scan, NaN stops, reparametrisations."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax import meta
from mnist1d_jax.studies import activation_core as core
from mnist1d_jax.studies import metalearn_lr as lr_study
from mnist1d_jax.studies import transfer_activation as transfer


@pytest.fixture(scope="module")
def tiny():
    """A 6-step unroll of a 40→8→10 tanh MLP on random data: (batches, params0)."""
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    batches = (jax.random.normal(kx, (6, 16, 40)), jax.random.randint(ky, (6, 16), 0, 10))
    return batches, lr_study.init_mlp(kp, hidden=8)


def test_meta_gradient_matches_finite_differences(tiny):
    batches, params0 = tiny
    f = lr_study.make_meta_loss(batches)
    value = jax.jit(lambda lr: f(lr, params0)[0])
    grad = jax.jit(jax.grad(lambda lr: f(lr, params0)[0]))
    for lr in (0.1, 0.6):
        eps = 1e-2
        fd = (value(lr + eps) - value(lr - eps)) / (2 * eps)
        assert float(grad(lr)) == pytest.approx(float(fd), rel=2e-3, abs=1e-4)


def test_checkpoint_truncation_and_forward_mode_give_the_same_gradient(tiny):
    batches, params0 = tiny
    g = lambda **kw: jax.grad(lambda lr: lr_study.make_meta_loss(batches, **kw)(lr, params0)[0])(0.5)
    plain = g(checkpoint=False)
    np.testing.assert_allclose(g(checkpoint=True), plain, rtol=1e-6)
    np.testing.assert_allclose(g(checkpoint=True, truncation=6), plain, rtol=1e-6)
    assert not np.isclose(g(checkpoint=True, truncation=2), plain, rtol=1e-3)  # truncation really cuts
    (_, _), fwd = meta.value_and_grad_forward(lr_study.make_meta_loss(batches))(jnp.float32(0.5), params0)
    np.testing.assert_allclose(fwd, plain, rtol=1e-5)


def test_jit_equals_eager(tiny):
    batches, params0 = tiny
    f = jax.value_and_grad(lambda lr: lr_study.make_meta_loss(batches)(lr, params0)[0])
    with jax.disable_jit():
        eager = f(0.3)
    jitted = jax.jit(f)(0.3)
    np.testing.assert_allclose(eager, jitted, rtol=1e-5)


def test_vmap_over_seeds_and_initial_values_equals_separate_runs(tiny):
    batches, _ = tiny
    f = lr_study.make_meta_loss(batches)
    params = jax.vmap(lambda s: lr_study.init_mlp(jax.random.key(s), 8))(jnp.arange(3))
    lr0 = jnp.array([1.5, 0.15, 0.5])
    _, together = meta.run_outer(f, optax.sgd(0.3), lr0, params, 4, vmap=True, chunk=3)
    for i in range(3):
        _, alone = meta.run_outer(f, optax.sgd(0.3), lr0[i], jax.tree.map(lambda a, i=i: a[i], params), 4)
        np.testing.assert_allclose(together["record"][i], alone["record"], rtol=1e-5)
        np.testing.assert_allclose(together["value"][i], alone["value"], rtol=1e-5)


def test_nan_meta_gradient_stops_and_names_the_outer_step():
    # sgd(0.2) on loss sqrt(m - 0.3): m = 1.0, then ≈0.88, 0.75, 0.60, 0.31, then m < 0.3 → NaN at step 5
    loss = lambda m, ctx: (jnp.sqrt(m - 0.3), ())
    with pytest.raises(meta.NonFiniteMetaGradient, match=r"outer step 5 \(meta-loss NOT finite, 1 non-finite"):
        meta.run_outer(loss, optax.sgd(0.2), jnp.float32(1.0), None, 20, chunk=3)
    seen = []
    with pytest.raises(meta.NonFiniteMetaGradient, match="outer step 5 of run seed 1"):
        meta.run_outer(loss, optax.sgd(0.2), jnp.array([5.0, 1.0]), None, 20, chunk=3, vmap=True,
                       labels=["seed 0", "seed 1"], on_chunk=lambda s, m: seen.append(int(s.step[0])))
    assert seen == [3]  # stopped after the chunk that contained step 5, never ran on


def test_clipping_is_elementwise():
    loss = lambda m, ctx: (jnp.sum(jnp.array([10.0, 0.01]) * m), ())
    _, metrics = meta.run_outer(loss, optax.sgd(1.0), jnp.zeros(2), None, 1, clip=0.1)
    np.testing.assert_allclose(metrics["record"][0], [-0.1, -0.01], rtol=1e-6)


@pytest.mark.parametrize("reparam, value", [(meta.positive, 0.37), (meta.unit_interval, 0.9), (meta.identity, -2.0)])
def test_reparametrisation_round_trip(reparam, value):
    x = jnp.float32(value)
    np.testing.assert_allclose(reparam.to_constrained(reparam.to_unconstrained(x)), x, rtol=1e-6)


def test_weight_decay_example_learns_something(tiny):
    """The README example: a positive weight decay in log space, metalearned through SGD."""
    batches, params0 = tiny

    def loss_fn(log_wd, params, batch):
        return lr_study.mlp_loss(params, batch) + 0.5 * meta.positive.to_constrained(log_wd) * sum(
            jnp.sum(p**2) for p in jax.tree.leaves(params))

    step = meta.make_inner_step(loss_fn, meta.sgd(lambda m: 0.5))
    meta_loss = lambda m, p0: (meta.unroll(step, (p0, ()), batches, m)[1].mean(), ())
    state, metrics = meta.run_outer(meta_loss, optax.adam(0.1), jnp.log(1e-2), params0, 5)
    assert np.all(np.isfinite(metrics["value"])) and int(state.step) == 5


# ---------------------------------------------------------------------------------------------- the §6 core
@pytest.fixture(scope="module")
def act_task():
    cfg = core.InnerConfig(g_hidden=(16,), inner_steps=6, objective_from=2, hidden=12, batch_size=8,
                           test_examples=20)
    k = jax.random.split(jax.random.key(1), 4)
    x = jax.random.normal(k[0], (64, 40))
    y = jax.random.randint(k[1], (64,), 0, 10)
    return cfg, core.make_task(k[2], x, y, x[:20], y[:20], cfg), core.init_g(k[3], cfg.g_hidden)


def test_hand_written_inner_gradient_equals_autodiff(act_task):
    cfg, task, gp = act_task
    act = core.make_act(cfg)
    batch = (task.x[0], task.y[0], task.keys[0])
    loss, grads = core.loss_and_grad(core.value_and_derivative(act), gp, task.params0, *batch, cfg.noise)
    ref_loss, ref = jax.value_and_grad(
        lambda p: core.xent(core.forward(p, batch[0], batch[2], lambda h, k: act(gp, h, k), cfg.noise), batch[1])
    )(task.params0)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7), grads, ref)


def test_activation_meta_gradient_matches_finite_differences(act_task):
    cfg, task, gp = act_task
    f = jax.jit(lambda g: core.make_meta_loss(cfg)(g, task)[0])
    grad = jax.grad(f)(gp)
    direction = jax.tree.map(lambda a: jnp.sign(a), grad)
    eps = 1e-2
    shift = lambda s: jax.tree.map(lambda p, d: p + s * d, gp, direction)
    fd = (f(shift(eps)) - f(shift(-eps))) / (2 * eps)
    analytic = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grad), jax.tree.leaves(direction), strict=True))
    assert float(analytic) == pytest.approx(float(fd), rel=2e-2)


def test_tabulated_g_option_matches_the_exact_meta_gradient(act_task):
    cfg, task, gp = act_task
    exact = jax.value_and_grad(lambda g: core.make_meta_loss(cfg)(g, task)[0])(gp)
    table_cfg = core.InnerConfig(**{**cfg.__dict__, "g_table": 257})
    approx = jax.value_and_grad(lambda g: core.make_meta_loss(table_cfg)(g, task)[0])(gp)
    np.testing.assert_allclose(approx[0], exact[0], rtol=1e-5)
    e, a = (np.concatenate([np.ravel(x) for x in jax.tree.leaves(t[1])]) for t in (exact, approx))
    assert np.linalg.norm(a - e) <= 1e-3 * np.linalg.norm(e)


def test_piecewise_linear_paper_fit_and_own_fit():
    x = jnp.array([-3.0, -2.0, -1.5, 0.0, 1.0])
    np.testing.assert_allclose(core.piecewise_linear_paper(x), [0.45, 0.0, 0.475, -0.75, -0.2], atol=1e-6)
    from mnist1d_jax.studies.metalearn_activation import fit_pwl

    grid = np.linspace(-5, 5, 100, dtype=np.float32)
    coef = np.array([0.1, 0.2, -1.0, 0.5, 0.3, -0.2, 1.1], np.float32)
    np.testing.assert_allclose(fit_pwl(np.asarray(core.piecewise_linear(coef, grid)), grid), coef, atol=1e-4)


def test_transfer_pieces():
    x = jax.random.normal(jax.random.key(0), (3, 40, 2))
    w = jax.random.normal(jax.random.key(1), (5, 2, 4))
    ref = jax.lax.conv_general_dilated(x, w, (2,), ((1, 1),), dimension_numbers=("NWC", "WIO", "NWC"))
    np.testing.assert_allclose(transfer.conv1d(x, w), ref, rtol=1e-5, atol=1e-5)
    assert ref.shape == (3, 19, 4)
    gp = core.init_g(jax.random.key(2), (16,))
    f = transfer.tabulated_activation(gp)
    z = jnp.linspace(-6, 6, 101)
    exact = core.learned_activation(gp, z)
    np.testing.assert_allclose(f(z), exact, atol=1e-5)
    exact_slope = jax.vmap(jax.grad(lambda t: core.learned_activation(gp, t)))(z)
    np.testing.assert_allclose(jax.vmap(jax.grad(f))(z), exact_slope, atol=1e-4)
    counts = {m: sum(a.size for a in jax.tree.leaves(init(jax.random.key(0))))
              for m, (init, _) in transfer.MODELS.items()}
    assert counts == {"mlp": 15_210, "cnn": 5_210}


def test_memory_stays_flat_with_checkpointing():
    rows = lr_study.memory_profile(steps=(20, 200), checkpoint=(True,))
    small, big = (r["temp_bytes"] for r in rows)
    assert big < 4 * small + 2_000_000  # grows by a carry per step, not by every activation


def test_fused_lr_meta_gradient_equals_autodiff(tiny):
    batches, params0 = tiny
    (value, aux), grad = jax.jit(lr_study.make_fused_value_and_grad(batches))(jnp.float32(0.4), params0)
    (ref_value, ref_aux), ref_grad = meta.value_and_grad_forward(lr_study.make_meta_loss(batches))(
        jnp.float32(0.4), params0)
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    np.testing.assert_allclose(aux["final_loss"], ref_aux["final_loss"], rtol=1e-6)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5)


def test_fused_lr_meta_gradient_vmapped_over_runs_equals_each_run(tiny):
    """Under vmap the first layer's products fold the run axis into one product: the numbers must not move."""
    batches, _ = tiny
    vg = lr_study.make_fused_value_and_grad(batches)
    params = jax.vmap(lambda k: lr_study.init_mlp(k, hidden=8))(jax.random.split(jax.random.key(1), 3))
    lrs = jnp.array([0.05, 0.4, 1.5])
    (values, _), grads = jax.jit(jax.vmap(vg))(lrs, params)
    for i in range(3):
        (value, _), grad = jax.jit(vg)(lrs[i], jax.tree.map(lambda a, i=i: a[i], params))
        np.testing.assert_allclose(values[i], value, rtol=1e-6)
        np.testing.assert_allclose(grads[i], grad, rtol=1e-5)


def test_lr_sweep_cycles_its_starting_rates_over_the_inits():
    config = lr_study.LRStudyConfig(sweep_init_seeds=(1, 2, 3))
    assert lr_study.runs_of(config) == [("trial", 0, 1.5), ("trial", 0, 0.15), ("sweep", 1, 1.5),
                                        ("sweep", 2, 0.15), ("sweep", 3, 1.5)]


def test_init_does_not_depend_on_the_compiler_optimisation_level():
    """`jit_setup` compiles the init without LLVM's passes; the default level must give the same numbers."""
    from mnist1d_jax.core.parallel import jit_setup

    keys = jnp.arange(3)
    init = jax.vmap(lambda s: lr_study.init_mlp(jax.random.key(s)))
    slow = jax.jit(init, compiler_options={"xla_backend_optimization_level": 2})(keys)
    fast = jit_setup(init)(keys)
    jax.tree.map(np.testing.assert_array_equal, slow, fast)


def test_rmsprop_meta_gradient_is_finite_when_v_underflows_to_zero():
    """A parameter whose gradients all underflowed has v = 0 and g = 0: naive √ gives 0·∞ = NaN."""
    cfg = core.InnerConfig()
    v, p = jnp.zeros(3), jnp.ones(3)

    def through(sqrt):
        def f(scale):  # the gradient is a function of a meta-parameter; at scale 0 it is exactly zero
            g = scale * jnp.array([0.0, 0.0, 1.0])
            v_new = cfg.rms_decay * v + (1 - cfg.rms_decay) * g * g
            return jnp.sum(p - cfg.inner_lr * g / (sqrt(v_new) + cfg.rms_eps))
        return jax.grad(f)(0.0)

    assert not np.isfinite(through(jnp.sqrt))
    assert np.isfinite(through(core.safe_sqrt))
    np.testing.assert_allclose(through(core.safe_sqrt), -cfg.inner_lr / cfg.rms_eps, rtol=1e-6)
    new_p, new_v = core.rmsprop({"w": p}, {"w": jnp.array([0.0, 1e-3, 1.0])}, {"w": v}, cfg)
    np.testing.assert_array_equal(new_p["w"], p - cfg.inner_lr * jnp.array([0.0, 1e-3, 1.0]) / (
        jnp.sqrt(new_v["w"]) + cfg.rms_eps))


def test_meta_loss_scale_gives_the_same_clipped_update(act_task):
    """Differentiating 2⁻⁶⁴·loss and clipping in the scaled space is the unscaled update, bit for bit up to
    rounding, while keeping an exploding backward pass inside float32's range."""
    cfg, task, gp = act_task
    f = core.make_meta_loss(cfg)
    outs = [meta.run_outer(f, optax.sgd(0.3), gp, task, 2, clip=0.1, loss_scale=s)[1] for s in (1.0, 2.0**-64)]
    np.testing.assert_allclose(outs[1]["value"], outs[0]["value"], rtol=1e-6)
    np.testing.assert_allclose(outs[1]["grad_norm"], outs[0]["grad_norm"], rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), outs[1]["record"],
                 outs[0]["record"])


def test_renormalised_reverse_pass_equals_autodiff(act_task):
    cfg, task, gp = act_task
    (value, aux), scaled = jax.jit(core.make_meta_value_and_grad(cfg))(gp, task)
    (ref_value, ref_aux), ref = jax.value_and_grad(core.make_meta_loss(cfg), has_aux=True)(gp, task)
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    np.testing.assert_allclose(aux["test_acc"], ref_aux["test_acc"])
    grad = jax.tree.map(lambda m: jnp.ldexp(m, scaled.exponent), scaled.mantissa)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-8), grad, ref)
    # and in the outer loop: the same clipped updates as plain reverse mode
    runs = [meta.run_outer(core.make_meta_loss(cfg), optax.sgd(0.3), gp, task, 2, clip=0.1, mode=mode)[1]
            for mode in ("reverse", core.make_meta_value_and_grad(cfg))]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), runs[1]["record"],
                 runs[0]["record"])


def test_scaled_meta_gradient_of_a_chaotic_unroll_is_exact_where_autodiff_overflows():
    """The logistic map s ← r·s(1 − s) at r = 3.99 stays in [0, 1] but doubles perturbations each step: after 200
    steps d loss / d r is ~1e60, beyond float32. The renormalised pass gets it right (checked in float64 along the
    same float32 trajectory); plain reverse mode overflows."""
    steps = 200

    def step(r, s, _):
        s_next = r * s * (1.0 - s)
        return s_next, s_next

    weights = jnp.full((steps,), 1.0 / steps, jnp.float32)
    xs, r, s0 = jnp.zeros(steps), jnp.float32(3.99), jnp.float32(0.3)
    (value, (_, traj)), scaled = jax.jit(
        lambda r: meta.unroll_value_and_grad(step, s0, xs, r, weights))(r)
    plain = jax.grad(lambda r: jnp.sum(weights * meta.unroll(step, s0, xs, r)[1]))(r)
    assert not np.isfinite(plain)
    # forward-mode derivative in float64 along the float32 trajectory: ds'/dr = s(1 - s) + r(1 - 2s)·ds/dr
    s_before = np.concatenate([[0.3], np.asarray(traj[:-1], np.float64)])
    ds, expected = 0.0, 0.0
    for s in s_before:
        ds = s * (1 - s) + 3.99 * (1 - 2 * s) * ds
        expected += ds / steps
    assert int(scaled.exponent) > 128
    ours = float(scaled.mantissa) * 2.0 ** int(scaled.exponent)
    assert abs(expected) > 1e50 and ours == pytest.approx(expected, rel=1e-3)
    assert float(value) == pytest.approx(float(np.mean(np.asarray(traj, np.float64))), rel=1e-5)


def test_clip_scaled_never_forms_the_overflowing_gradient():
    m = jnp.array([1.0, -3e-30, 0.0, 1e-32, -1e-37])
    clipped = np.asarray(meta.clip_scaled(meta.ScaledGrad(m, jnp.int32(100)), 0.1))
    # 2**100 ≈ 1.27e30: 1e-32·2**100 ≈ 0.0127 stays, -1e-37·2**100 ≈ -1.3e-7 stays, the rest clip at ±0.1
    np.testing.assert_allclose(clipped, [0.1, -0.1, 0.0, 1e-32 * 2.0**100, -1e-37 * 2.0**100], rtol=1e-5)
    same = meta.clip_scaled(meta.ScaledGrad(jnp.array([0.5, -0.05, 0.2]), jnp.int32(0)), 0.1)
    np.testing.assert_array_equal(same, jnp.clip(jnp.array([0.5, -0.05, 0.2]), -0.1, 0.1))
    assert np.all(np.isfinite(np.asarray(meta.clip_scaled(meta.ScaledGrad(m, jnp.int32(400)), 0.1))))


def test_outer_loop_keeps_the_iterate_with_the_lowest_objective():
    quadratic = lambda m, _: ((m - 1.0) ** 2, {})  # noqa: E731
    # outer step too large: 0 -> 3 -> -3 -> 9 ... diverges, so the best iterate is the first one
    state, metrics = meta.run_outer(quadratic, optax.sgd(1.5), jnp.float32(0.0), None, 4)
    assert int(state.best_step) == 0 and float(state.best_meta) == 0.0 and float(state.best_value) == 1.0
    # a converging run: the best is the last iterate whose objective was evaluated (before the last update)
    state, metrics = meta.run_outer(quadratic, optax.sgd(0.25), jnp.float32(0.0), None, 4)
    assert int(state.best_step) == 3 and float(state.best_value) == pytest.approx(float(metrics["value"][3]))
    assert float(state.best_meta) == pytest.approx(1.0 - 0.5**3)
