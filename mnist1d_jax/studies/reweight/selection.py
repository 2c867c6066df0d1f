"""The reweighting study's settings chosen on the clean validation rows, and meta-gradient cleaning.

Each choice trains one run per candidate at plain training's peak width with one seed (the full protocol) on
training rows only, scores it on the ``n_clean`` clean validation rows (which stand in for the test set of these
runs: no test example is seen) and keeps the lowest validation error (ties: the lower cross-entropy).

* `choose_meta_lr`: MW-Net's Adam learning rate (``config.meta_lrs``);
* `choose_fraction`: meta-gradient cleaning ("prune"): the reweighting runs rank the 3,800 noisy rows by the
  share of their steps with a positive weight, averaged over every width and seed (`prune_order`); the least
  often kept fraction f is dropped and the rest trained plainly; f from ``config.prune_fractions`` (0 included,
  so "no pruning" can win). The final pruned runs train on the kept noisy rows plus the clean rows with their
  true labels (as plain training does); the choice trains without the clean rows, which score it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time

import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core.sweeps import SweepConfig, sweep_widths
from mnist1d_jax.data.splits import Data
from mnist1d_jax.nn.models import width_model
from mnist1d_jax.studies.reweight.mwnet import VERSION, make_mwnet

SHARED = ("noise", "n_clean", "clean_seed", "data_seed")


def _best(err: list[float], nll: list[float]) -> int:
    return min(range(len(err)), key=lambda i: (err[i], nll[i]))


def choose_meta_lr(config, sweep: SweepConfig, data: dict, width: int, ctx) -> dict:
    """MW-Net's Adam learning rate at `width`: ``{"width", "seed", "meta_lrs", "val_error", "val_nll" (one per
    rate), "chosen"}`` (kept in ``ctx.store``)."""
    tag = {"sweep": dataclasses.asdict(sweep), "width": width, "seed": config.select_seed,
           "meta_lrs": list(config.meta_lrs), "mwnet": VERSION, **{k: getattr(config, k) for k in SHARED}}
    found = ctx.store.get("mwnet_select", tag)
    if found is None:
        start = time.perf_counter()
        on_val = Data(data["reweight"].x, data["reweight"].y, data["x_val"], data["y_val"])
        x_val, y_val = jnp.asarray(data["x_val"]), jnp.asarray(data["y_val"])
        err, nll = [], []
        for lr in config.meta_lrs:  # a handful of host-level tries: each its own short program
            w = make_mwnet(width_model("mlp", width), config.learning_rate, x_val, y_val, lr)
            r = sweep_widths("mlp", [width], [config.select_seed], on_val, sweep, buckets=[[width]], weigh=w)
            err.append(float(r["test_error"][0, 0]))
            nll.append(float(r["test_nll"][0, 0]))
        found = {"width": width, "seed": config.select_seed, "meta_lrs": list(config.meta_lrs), "val_error": err,
                 "val_nll": nll, "chosen": float(config.meta_lrs[_best(err, nll)]),
                 "seconds": time.perf_counter() - start}
        ctx.store.put("mwnet_select", tag, found)
    return found


def prune_order(kept) -> np.ndarray:
    """``(N,)`` row indices, least often kept first, from the kept shares ``(W, S, N)`` averaged over widths and
    seeds (ties: row order)."""
    return np.argsort(np.asarray(kept, np.float64).mean(axis=(0, 1)), kind="stable")


def order_digest(order) -> str:
    """A short fingerprint of a ranking (for the store's tags)."""
    return hashlib.sha256(np.asarray(order, np.int64).tobytes()).hexdigest()[:16]


def pruned(train: Data, order, fraction: float) -> np.ndarray:
    """Bool ``(N,)``: the rows of `train` kept after dropping the ``round(fraction * N)`` first of `order`."""
    keep = np.ones(len(train.y), bool)
    keep[np.asarray(order)[:int(round(fraction * len(keep)))]] = False
    return keep


def choose_fraction(config, sweep: SweepConfig, data: dict, order, width: int, ctx) -> dict:
    """The pruned fraction at `width`: ``{"width", "seed", "fractions", "val_error", "val_nll", "chosen"}``."""
    tag = {"sweep": dataclasses.asdict(sweep), "width": width, "seed": config.select_seed,
           "fractions": list(config.prune_fractions), "order": order_digest(order),
           **{k: getattr(config, k) for k in SHARED}}
    found = ctx.store.get("prune_select", tag)
    if found is None:
        train, start = data["reweight"], time.perf_counter()
        err, nll = [], []
        for f in config.prune_fractions:
            keep = pruned(train, order, f)
            on_val = Data(train.x[keep], train.y[keep], data["x_val"], data["y_val"])
            r = sweep_widths("mlp", [width], [config.select_seed], on_val, sweep, buckets=[[width]])
            err.append(float(r["test_error"][0, 0]))
            nll.append(float(r["test_nll"][0, 0]))
        found = {"width": width, "seed": config.select_seed, "fractions": list(config.prune_fractions),
                 "val_error": err, "val_nll": nll, "chosen": float(config.prune_fractions[_best(err, nll)]),
                 "seconds": time.perf_counter() - start}
        ctx.store.put("prune_select", tag, found)
    return found


def prune_data(data: dict, order, fraction: float) -> tuple[Data, int]:
    """The final pruned training set (the kept noisy rows, then the clean rows with their true labels) and how
    many wrong labels it holds."""
    train, keep = data["reweight"], pruned(data["reweight"], order, fraction)
    x = np.concatenate([train.x[keep], data["x_val"]])
    y = np.concatenate([train.y[keep], data["y_val"]]).astype(np.int32)
    return Data(x, y, train.x_test, train.y_test), int(np.asarray(data["noisy"])[keep].sum())


__all__ = ["choose_fraction", "choose_meta_lr", "order_digest", "prune_data", "prune_order", "pruned"]
