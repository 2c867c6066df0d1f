"""Metalearning: unrolled, differentiable inner training runs and a scanned outer loop.

Every piece is a pure function (after learned_optimization and optax's meta-learning example):

* `unroll` / `make_inner_step` / `sgd`: the inner run as a `lax.scan` that `jax.grad` goes through;
* `positive` / `unit_interval` / `identity`: constrained meta-parameters in an unconstrained space;
* `unroll_value_and_grad` / `ScaledGrad` / `clip_scaled`: the exact meta-gradient of a chaotic unroll;
* `make_outer_scan` / `run_outer`: the outer loop, vmappable over seeds, raising `NonFiniteMetaGradient`;
* `Task` / `classifier_task`: an inner problem (init, loss) any of them takes.

A worked example (learning a weight decay) is in README.md, "Metalearning".
"""

from mnist1d_jax.meta.inner import (
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
from mnist1d_jax.meta.outer import (
    NonFiniteMetaGradient,
    OuterState,
    check_finite,
    make_outer_scan,
    outer_init,
    run_outer,
    value_and_grad_forward,
)
from mnist1d_jax.meta.tasks import Task, classifier_task

__all__ = ["NonFiniteMetaGradient", "OuterState", "RENORMALIZE_ABOVE", "Reparam", "ScaledGrad", "Task",
           "check_finite", "classifier_task", "clip_scaled", "identity", "make_inner_step", "make_outer_scan",
           "outer_init", "positive", "run_outer", "sgd", "unit_interval", "unroll", "unroll_value_and_grad",
           "value_and_grad_forward"]
