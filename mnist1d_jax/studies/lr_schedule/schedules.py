"""Learning-rate schedules as arrays of per-step rates: the learned one (knots of the log rate, linearly
interpolated) and the baselines (constant rates and cosine decays to zero)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mnist1d_jax.studies.lr_schedule.config import ScheduleStudyConfig


def knot_steps(config: ScheduleStudyConfig) -> jax.Array:
    """``[knots]`` float32: the inner steps the knots sit at, evenly spaced over ``0..inner_steps-1``."""
    return jnp.linspace(0.0, config.inner_steps - 1, config.knots, dtype=jnp.float32)


def rate_at(log_lr: jax.Array, t: jax.Array, config: ScheduleStudyConfig) -> jax.Array:
    """The learning rate of the knots ``log_lr [knots]`` at inner step(s) `t` (linear in log η between knots)."""
    return jnp.exp(jnp.interp(jnp.asarray(t, jnp.float32), knot_steps(config), log_lr))


def schedule_rates(log_lr: jax.Array, config: ScheduleStudyConfig) -> jax.Array:
    """``[inner_steps]`` learning rates of the knots ``log_lr [knots]``."""
    return rate_at(log_lr, jnp.arange(config.inner_steps), config)


def baseline_rates(config: ScheduleStudyConfig) -> dict[str, jax.Array]:
    """``{name: rates [T]}``: a constant and a cosine decay to zero (peak ``η``) for each ``η`` of the grid."""
    t = jnp.arange(config.inner_steps, dtype=jnp.float32)
    cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * t / config.inner_steps))
    out = {f"constant {lr:g}": jnp.full((config.inner_steps,), lr, jnp.float32) for lr in config.grid}
    out |= {f"cosine {lr:g}": lr * cosine for lr in config.grid}
    return out

