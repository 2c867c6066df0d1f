"""Transfer check: the metalearned activation inside the Table-1 MLP and CNN (EXPERIMENTS.md §2.2) vs ReLU,
ELU and Swish, many seeds per activation in one vmapped training program.

The learned f = ELU + 0.2·g is frozen here (no noise, no meta-gradient), so it is tabulated once: g and g' on
1,025 nodes of [-12, 12], cubic Hermite in between (error O(Δ⁴) ≈ 1e-7 for these smooth tanh nets), linear
beyond; its derivative is the interpolant's, so Adam sees the same function it trains through.
Training: Adam(0.01), batch 100 in fixed sequential order, ``steps + 1`` updates (harness H, §0.2), test
accuracy on the full frozen test set every 250 steps; we report the final and the best evaluation point.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.studies import activation_core as core


def tabulated_activation(g_params, *, g_scale: float = 0.2, nodes: int = 1025, span: float = 12.0) -> Callable:
    """The noise-free learned f as an elementwise function with a custom derivative (the interpolant's)."""
    z = jnp.linspace(-span, span, nodes, dtype=jnp.float32)
    gv, gd = jax.jvp(lambda t: core.g_apply(g_params, t, None, 0.0), (z,), (jnp.ones_like(z),))

    @jax.custom_jvp
    def f(x):
        return jax.nn.elu(x) + g_scale * core.hermite(gv, gd, -span, span, x)[0]

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        e, de = jax.jvp(jax.nn.elu, (x,), (jnp.ones_like(x),))
        val, der = core.hermite(gv, gd, -span, span, x)
        return e + g_scale * val, (de + g_scale * der) * t

    return f


def _dense(key, fan_in, fan_out):
    return core.dense_init(key, fan_in, fan_out)


def _conv(key, c_in, c_out, k):
    kw, kb = jax.random.split(key)
    b = 1.0 / (c_in * k) ** 0.5
    return {"w": jax.random.uniform(kw, (k, c_in, c_out), jnp.float32, -b, b),
            "b": jax.random.uniform(kb, (c_out,), jnp.float32, -b, b)}


def init_mlp(key):
    """Table-1 MLP, 15,210 parameters."""
    k = jax.random.split(key, 3)
    return {"l1": _dense(k[0], 40, 100), "l2": _dense(k[1], 100, 100), "l3": _dense(k[2], 100, 10)}


def apply_mlp(p, x, act):
    h = act(x @ p["l1"]["w"] + p["l1"]["b"])
    h = h + act(h @ p["l2"]["w"] + p["l2"]["b"])  # the residual connection of the original
    return h @ p["l3"]["w"] + p["l3"]["b"]


def init_cnn(key):
    """Table-1 CNN, 5,210 parameters: three stride-2 convs (pad 1) of 25 channels, Dense 125→10."""
    k = jax.random.split(key, 4)
    return {"c1": _conv(k[0], 1, 25, 5), "c2": _conv(k[1], 25, 25, 3), "c3": _conv(k[2], 25, 25, 3),
            "out": _dense(k[3], 125, 10)}


def conv1d(h, w, stride: int = 2, pad: int = 1):
    """Cross-correlation of ``h [B, L, C_in]`` with ``w [k, C_in, C_out]``, zero padding `pad`, as one matmul
    over gathered patches (im2col); XLA's CPU convolution is slow for these tiny channel counts."""
    k, c_in, c_out = w.shape
    h = jnp.pad(h, ((0, 0), (pad, pad), (0, 0)))
    length = (h.shape[1] - k) // stride + 1
    idx = np.arange(length)[:, None] * stride + np.arange(k)  # [L_out, k], static
    patches = h[:, idx, :].reshape(h.shape[0], length, k * c_in)
    return patches @ w.reshape(k * c_in, c_out)


def apply_cnn(p, x, act):
    h = x[:, :, None]  # [B, 40, 1] (length, channels)
    for name in ("c1", "c2", "c3"):
        h = act(conv1d(h, p[name]["w"]) + p[name]["b"])
    return h.reshape(h.shape[0], -1) @ p["out"]["w"] + p["out"]["b"]


MODELS = {"mlp": (init_mlp, apply_mlp), "cnn": (init_cnn, apply_cnn)}


def make_train(model: str, act: Callable, data, steps: int, eval_every: int = 250, batch: int = 100):
    """``train(key) -> test accuracy % at steps 0, E, 2E, ...`` (evaluation after the update, as harness H)."""
    init, apply = MODELS[model]
    x, y = jnp.asarray(data.x, jnp.float32), jnp.asarray(data.y, jnp.int32)
    xt, yt = jnp.asarray(data.x_test, jnp.float32), jnp.asarray(data.y_test, jnp.int32)
    opt = optax.adam(0.01)
    n = x.shape[0]

    def loss_fn(p, xb, yb):
        logits = apply(p, xb, act)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    def step(carry, s):
        p, o = carry
        idx = (s * batch + jnp.arange(batch)) % n
        g = jax.grad(loss_fn)(p, x[idx], y[idx])
        u, o = opt.update(g, o, p)
        return (optax.apply_updates(p, u), o), None

    def evaluate(p):
        return 100.0 * jnp.mean(jnp.argmax(apply(p, xt, act), -1) == yt)

    def train(key):
        p = init(key)
        carry = (p, opt.init(p))
        carry, _ = step(carry, 0)  # step 0, then evaluation
        accs = [evaluate(carry[0])]

        def block(c, b):
            c, _ = jax.lax.scan(step, c, b * eval_every + 1 + jnp.arange(eval_every))
            return c, evaluate(c[0])

        carry, more = jax.lax.scan(block, carry, jnp.arange(steps // eval_every))
        return jnp.concatenate([jnp.stack(accs), more])

    return train


def run_transfer(config, f_on_grid, grid, g_params) -> dict:
    """Test accuracy of MLP and CNN with learned / ReLU / ELU / Swish over ``config.transfer_seeds`` seeds."""
    from mnist1d_jax.data.io import get_dataset

    data = get_dataset(DatasetConfig())
    acts = {"learned": tabulated_activation(g_params), "relu": jax.nn.relu, "elu": jax.nn.elu,
            "swish": jax.nn.swish}
    keys = jax.random.split(jax.random.key(1234), config.transfer_seeds)
    steps = config.transfer_steps
    eval_every = 250 if steps >= 250 else max(1, steps)
    table: dict = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for model in MODELS:
        for name, act in acts.items():
            accs = np.asarray(jax.jit(jax.vmap(make_train(model, act, data, steps, eval_every)))(keys))
            table.setdefault(model, {})[name] = {
                "final_mean": float(accs[:, -1].mean()), "final_std": float(accs[:, -1].std()),
                "best_mean": float(accs.max(1).mean()), "best_std": float(accs.max(1).std()),
                "final_per_seed": accs[:, -1]}
    return {"table": table, "seeds": config.transfer_seeds, "updates": steps + 1, "eval_every": eval_every,
            "data": "frozen default dataset (4,000 train / 1,000 test)", "optimizer": "Adam 0.01, batch 100",
            "learned_function": "seed-0 f with the lowest meta-objective, noise-free, tabulated (1,025 Hermite "
                                "nodes on [-12, 12])",
            "max_abs_table_error_on_grid": float(np.max(np.abs(
                np.asarray(acts["learned"](jnp.asarray(grid))) - np.asarray(f_on_grid)))),
            "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


def markdown_table(transfer: dict) -> str:
    """The transfer numbers as a small Markdown table (final test accuracy, mean ± std over seeds)."""
    t = transfer["table"]
    names = list(next(iter(t.values())).keys())
    lines = ["| model | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for model, row in t.items():
        cells = [f"{row[n]['final_mean']:.1f} ± {row[n]['final_std']:.1f} (best {row[n]['best_mean']:.1f})"
                 for n in names]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
