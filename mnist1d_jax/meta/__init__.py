"""Metalearning: one inner-problem object, meta-gradient estimators that all take it, and a resumable outer loop.

Every piece is a pure function (after learned_optimization and optax's meta-learning example):

* `InnerProblem` (``meta.problem``): ``init(meta, key, context)``, ``step(meta, state, t, key, context) ->
  (state, loss_t)``, ``num_steps``, optional ``weights``, a held-out ``objective``, ``metrics`` and a
  ``train_loss``; `inner_problem(task, optimizer, data, objective=...)` builds the common case; `run_inner`
  runs one forward (to evaluate what was learned on fresh keys); `Task` /
  `classifier_task` are the models it trains;
* estimators, each ``init`` / ``grad`` with a static `Cost`: `exact` (checkpointed, or the overflow-safe
  `ScaledGrad` form), `forward`, `truncated`, `antithetic_es`, `pes`, `implicit` (implicit function theorem, CG
  or Neumann), and `from_value_and_grad` for a hand-written one;
* `batched(estimator, n)`: any estimator averaged over a batch of ``n`` inner runs per outer step (tasks,
  inits), the runs a vmapped axis;
* `run_outer(estimator, optimizer, meta, context, num_steps, key=...)`: the outer loop as jitted chunks of one
  ``lax.scan``, vmappable over seeds (each run and each outer step gets its own key), resumable from a
  `Checkpoint`, raising `NonFiniteMetaGradient` with the step that went wrong;
* `positive` / `unit_interval` / `identity`: constrained meta-parameters in an unconstrained space;
* `unroll` / `unroll_value_and_grad` / `clip_scaled`: the differentiable scan and the overflow-free reverse pass.

"Write your own metalearning problem" in README.md shows a problem in one short file; "Choosing a meta-gradient
estimator" which estimator to use, and why.
"""

from mnist1d_jax.meta.batched import batched
from mnist1d_jax.meta.es import PESState, antithetic_es, pes
from mnist1d_jax.meta.estimators import Cost, Estimator, exact, forward, from_value_and_grad, value_and_grad_forward
from mnist1d_jax.meta.implicit import implicit, neumann_solve
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
    Checkpoint,
    NonFiniteMetaGradient,
    OuterState,
    check_finite,
    make_outer_scan,
    outer_init,
    run_outer,
)
from mnist1d_jax.meta.problem import InnerProblem, InnerState, RunKeys, inner_problem, run_inner, run_keys
from mnist1d_jax.meta.tasks import Task, classifier_task
from mnist1d_jax.meta.truncated import WindowState, truncated

__all__ = ["Checkpoint", "Cost", "Estimator", "InnerProblem", "InnerState", "NonFiniteMetaGradient", "OuterState",
           "PESState", "RENORMALIZE_ABOVE", "Reparam", "RunKeys", "ScaledGrad", "Task", "WindowState",
           "antithetic_es", "batched", "check_finite", "classifier_task", "clip_scaled", "exact", "forward",
           "from_value_and_grad", "identity", "implicit", "inner_problem", "make_inner_step", "make_outer_scan",
           "neumann_solve", "outer_init", "pes", "positive", "run_inner", "run_keys", "run_outer", "sgd", "truncated",
           "unit_interval", "unroll", "unroll_value_and_grad", "value_and_grad_forward"]
