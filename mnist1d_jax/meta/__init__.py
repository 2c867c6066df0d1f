"""Metalearning: unrolled, differentiable inner training runs and a scanned outer loop.

Every piece is a pure function (after learned_optimization and optax's meta-learning example):

* `unroll` / `make_inner_step` / `sgd`: the inner run as a `lax.scan` that `jax.grad` goes through;
* `positive` / `unit_interval` / `identity`: constrained meta-parameters in an unconstrained space;
* `unroll_value_and_grad` / `ScaledGrad` / `clip_scaled`: the exact meta-gradient of a chaotic unroll;
* `make_outer_scan` / `run_outer`: the outer loop, vmappable over seeds, raising `NonFiniteMetaGradient`.

A worked example (learning a weight decay) is in README.md, "Metalearning".
"""

from mnist1d_jax.meta.outer import (
    NonFiniteMetaGradient,
    OuterState,
    check_finite,
    make_outer_scan,
    outer_init,
    run_outer,
    value_and_grad_forward,
)
from mnist1d_jax.meta.unroll import (
    RENORMALIZE_ABOVE,
    Reparam,
    ScaledGrad,
    clip_scaled,
    identity,
    make_inner_step,
    positive,
    sgd,
    unit_interval,
    unroll,
    unroll_value_and_grad,
)

__all__ = ["NonFiniteMetaGradient", "OuterState", "RENORMALIZE_ABOVE", "Reparam", "ScaledGrad", "check_finite",
           "clip_scaled", "identity", "make_inner_step", "make_outer_scan", "outer_init", "positive", "run_outer",
           "sgd", "unit_interval", "unroll", "unroll_value_and_grad", "value_and_grad_forward"]
