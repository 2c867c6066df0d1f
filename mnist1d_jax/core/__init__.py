"""The training core: one step (``core.step``), one loop (``core.loop``), batch schedules, evaluations, whole
runs from a config (``core.runs``) and the run axis over devices (``core.parallel``)."""

from mnist1d_jax.core.augment import Augment
from mnist1d_jax.core.evaluation import error_metrics, leading_rows_metrics, split_metrics
from mnist1d_jax.core.loop import Hook, best_on, eval_points, snapshot_at, train_loop
from mnist1d_jax.core.runs import TrainConfig, train, train_jit, train_seeds
from mnist1d_jax.core.schedules import EpochShuffle, PreDrawn, Sequential
from mnist1d_jax.core.step import (
    LOSSES,
    TrainState,
    apply_mask,
    create_train_state,
    cross_entropy,
    evaluate,
    make_optimizer,
    mse_onehot,
    set_hyperparams,
    train_step,
)

__all__ = ["Augment", "EpochShuffle", "Hook", "LOSSES", "PreDrawn", "Sequential", "TrainConfig", "TrainState",
           "apply_mask", "best_on", "create_train_state", "cross_entropy", "error_metrics", "eval_points",
           "evaluate", "leading_rows_metrics", "make_optimizer", "mse_onehot", "set_hyperparams", "snapshot_at",
           "split_metrics", "train", "train_jit", "train_loop", "train_seeds", "train_step"]
