"""The double-descent study's ``run``: the (noisy) labels, then every panel as width sweeps, one vmapped program
per width bucket, each finished bucket kept in the study's store; the buckets merged into one table per panel."""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from mnist1d_jax.core.sweeps import bucket_widths, cost_fn, sweep_widths
from mnist1d_jax.data.classes import refuse_class_subset
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import Data, label_noise
from mnist1d_jax.runtime.backend import bucket_plan
from mnist1d_jax.studies.double_descent.config import (
    NAME,
    REFUSES_CLASS_SUBSET,
    DoubleDescentConfig,
    label_of,
    total_points,
)
from mnist1d_jax.studies.double_descent.peak import find_peak


def run(config: DoubleDescentConfig, ctx) -> dict:
    """Every panel, bucket by bucket (each finished bucket kept in ``ctx.store``); the record has per panel the
    widths, parameter counts and (width, seed) tables of errors (%) and losses, the peak and the timing."""
    refuse_class_subset(NAME, REFUSES_CLASS_SUBSET, ctx.classes)
    dcfg = DatasetConfig(num_samples=16000, train_split=0.25, seed=config.data_seed)
    ds = get_dataset(dcfg)
    y_noisy, noise_info = label_noise(ds.y, dcfg, config.noise)
    clean = Data(ds.x, ds.y, ds.x_test, ds.y_test)
    noisy = Data(ds.x, y_noisy, ds.x_test, ds.y_test)
    record = {"label": label_of(config), "label_noise": noise_info, "n_train": int(len(ds.y)),
              "n_test": int(len(ds.y_test)), "panels": {}}
    bar = ctx.bar(total_points(config), "(width, seed) points", "pt")
    for panel in config.panels:
        model, widths, is_noisy, loss = config.panel_spec(panel)
        sweep_cfg = config.sweep(loss)
        seeds = config.panel_seeds(panel)
        plan = {"overhead": config.bucket_overhead, **bucket_plan()}  # on accelerators: few large buckets
        buckets = bucket_widths(widths, cost_fn(model), config.max_buckets, runs_per_width=len(seeds),
                                devices=jax.device_count(), **plan)
        if config.smallest_first:  # only scheduling: results do not depend on the order
            buckets = sorted(buckets, key=lambda b: len(b) * cost_fn(model)(max(b)))
        else:
            buckets = sorted(buckets, key=lambda b: -len(b) * cost_fn(model)(max(b)))
        parts = []
        for bucket in buckets:
            # what determines the numbers of this bucket (so runs with other panels or widths reuse it)
            tag = {"sweep": dataclasses.asdict(sweep_cfg), "model": model, "noisy": is_noisy, "noise": config.noise,
                   "data_seed": config.data_seed, "seeds": seeds, "bucket": bucket}
            key = f"{panel}_{max(bucket)}"
            part = ctx.store.get(key, tag)
            if part is None:
                t0 = time.perf_counter()
                part = sweep_widths(model, bucket, seeds, noisy if is_noisy else clean, sweep_cfg, buckets=[bucket])
                part["seconds"] = time.perf_counter() - t0
                ctx.store.put(key, tag, part)
            parts.append(part)
            bar.update(len(bucket) * len(seeds))
            bar.set_postfix_str(f"{panel} {bucket[0]}-{bucket[-1]}")
        record["panels"][panel] = merge_panel(parts, model, loss, is_noisy)
    bar.close()
    return record


def merge_panel(parts: list[dict], model: str, loss: str, noisy: bool) -> dict:
    """One panel's table from its bucket parts (widths sorted); metrics are (W, S) lists, errors in %."""
    keys = ("train_error", "test_error", "train_loss", "test_loss", "train_nll", "test_nll")
    rows = []
    for part in parts:
        for i, w in enumerate(part["widths"]):
            rows.append((w, part["params"][i], {k: np.asarray(part[k][i]).tolist() for k in keys}))
    rows.sort(key=lambda r: r[0])
    n_points = sum(len(p["widths"]) * len(p["seeds"]) for p in parts)
    seconds = sum(p["seconds"] for p in parts)
    cpu = sum(b["cpu_seconds"] for p in parts for b in p["buckets"])
    out = {"model": model, "loss": loss, "noisy_labels": noisy, "seeds": list(parts[0]["seeds"]),
           "widths": [r[0] for r in rows], "params": [r[1] for r in rows],
           "buckets": [b for p in parts for b in p["buckets"]], "seconds": seconds, "cpu_seconds": cpu,
           "seconds_per_point": seconds / n_points, "cpu_seconds_per_point": cpu / n_points, "timed_points": n_points}
    for k in keys:
        out[k] = [r[2][k] for r in rows]
    out.update(find_peak(out))
    return out
