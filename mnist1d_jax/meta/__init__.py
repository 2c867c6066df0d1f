"""Metalearning: unrolled, differentiable inner training runs and a scanned outer loop.

Every piece is a pure function (after learned_optimization and optax's meta-learning example):

* `unroll` / `make_inner_step` / `sgd`: the inner run as a `lax.scan` that `jax.grad` goes through;
* `positive` / `unit_interval` / `identity`: constrained meta-parameters in an unconstrained space;
* `unroll_value_and_grad` / `ScaledGrad` / `clip_scaled`: the exact meta-gradient of a chaotic unroll;
* `make_outer_scan` / `run_outer`: the outer loop, vmappable over seeds, raising `NonFiniteMetaGradient`;
* `Task` / `classifier_task`: an inner problem (init, loss) any of them takes;
* `Unrolled` / `Estimator` / `Cost` and `exact` / `truncated` / `antithetic_es` / `pes` / `forward`
  (``meta.estimators``): meta-gradient estimators behind one interface, each usable as ``mode=`` of the
  outer loop (with ``key=``), with their work per outer step.

A worked example (learning a weight decay) is in README.md, "Metalearning"; which estimator to use, in its
"Choosing a meta-gradient estimator".
"""

from mnist1d_jax.meta.estimators import (
    Cost,
    Estimator,
    PESState,
    Unrolled,
    WindowState,
    antithetic_es,
    exact,
    forward,
    pes,
    truncated,
)
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

__all__ = ["Cost", "Estimator", "NonFiniteMetaGradient", "OuterState", "PESState", "RENORMALIZE_ABOVE", "Reparam",
           "ScaledGrad", "Task", "Unrolled", "WindowState", "antithetic_es", "check_finite", "classifier_task",
           "clip_scaled", "exact", "forward", "identity", "make_inner_step", "make_outer_scan", "outer_init", "pes",
           "positive", "run_outer", "sgd", "truncated", "unit_interval", "unroll", "unroll_value_and_grad",
           "value_and_grad_forward"]
