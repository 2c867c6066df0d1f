"""The reweighting study's ``run``: each method's training set, then every method over every width bucket
(MW-Net's learning rate and the pruned fraction chosen on the clean rows first), each finished bucket kept in the
study's store; the per-example weights summarised."""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core.sweeps import SweepConfig, bucket_widths, cost_fn, sweep_widths
from mnist1d_jax.data.classes import refuse_class_subset
from mnist1d_jax.data.clean_split import clean_validation_split
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import Data, label_noise
from mnist1d_jax.nn.models import width_model, width_model_params
from mnist1d_jax.runtime.backend import bucket_plan
from mnist1d_jax.studies.reweight.config import METHODS, NAME, REFUSES_CLASS_SUBSET, ReweightConfig
from mnist1d_jax.studies.reweight.lookahead import lookahead_problem, make_weigh
from mnist1d_jax.studies.reweight.measures import noisy_share, peak_index
from mnist1d_jax.studies.reweight.mwnet import VERSION as MWNET_VERSION
from mnist1d_jax.studies.reweight.mwnet import make_mwnet
from mnist1d_jax.studies.reweight.selection import (
    choose_fraction,
    choose_meta_lr,
    order_digest,
    prune_data,
    prune_order,
)


def method_data(config: ReweightConfig) -> dict:
    """The methods' training sets (host arrays; MW-Net's are reweighting's) and what scores them."""
    dcfg = DatasetConfig(num_samples=16000, train_split=0.25, seed=config.data_seed)
    ds = get_dataset(dcfg)
    x, y_true = np.asarray(ds.x, np.float32), np.asarray(ds.y, np.int32)
    y_noisy, noise_info = label_noise(y_true, dcfg, config.noise)
    split = clean_validation_split(y_noisy, y_true, config.n_clean, config.clean_seed)
    y_plain = np.array(y_noisy, np.int32)
    y_plain[split.val] = split.y_val  # the clean rows are in plain training too, with their true labels
    right = y_plain == y_true
    test = (np.asarray(ds.x_test, np.float32), np.asarray(ds.y_test, np.int32))
    return {"plain": Data(x, y_plain, *test), "oracle": Data(x[right], y_true[right], *test),
            "reweight": Data(x[split.train], split.y_train, *test),
            "mwnet": Data(x[split.train], split.y_train, *test), "x_val": x[split.val], "y_val": split.y_val,
            "noisy": split.noisy, "noise_info": noise_info}


def run(config: ReweightConfig, ctx) -> dict:
    """Every method over every width bucket (each bucket kept in ``ctx.store``); the record holds the (W, S)
    errors of each method, the (W, S) shares of wrong labels among the lowest-ranked examples, and the
    reweighted runs' per-example mean weights and kept shares at the peak width (``arrays``, (S, N))."""
    refuse_class_subset(NAME, REFUSES_CLASS_SUBSET, ctx.classes)
    t0 = time.perf_counter()
    data = method_data(config)
    sweep = SweepConfig(learning_rate=config.learning_rate, momentum=config.momentum, batch_size=config.batch_size,
                        epochs=config.epochs)
    seeds, widths = list(config.seeds), list(config.widths)
    buckets = bucket_widths(widths, cost_fn("mlp"), config.max_buckets, runs_per_width=len(seeds),
                            devices=jax.device_count(), **bucket_plan())
    bar = ctx.bar(len(METHODS) * len(widths) * len(seeds), "(method, width, seed) runs", "run")
    methods, selection, extra = {}, {}, {}
    x_val, y_val = jnp.asarray(data["x_val"]), jnp.asarray(data["y_val"])
    for method in METHODS:
        if method == "mwnet":  # plain's peak is known now: MW-Net's learning rate is chosen there
            peak = widths[peak_index(methods["plain"]["test_error"])]
            selection["mwnet"] = choose_meta_lr(config, sweep, data, peak, ctx)
            extra = {"meta_lr": selection["mwnet"]["chosen"], "mwnet": MWNET_VERSION}
        if method == "prune":  # the reweighting runs' ranking, then the fraction chosen at the peak
            order = prune_order(methods["reweight"]["example_kept"])
            peak = widths[peak_index(methods["plain"]["test_error"])]
            selection["prune"] = choose_fraction(config, sweep, data, order, peak, ctx)
            data["prune"], selection["prune"]["wrong_labels"] = prune_data(data, order, selection["prune"]["chosen"])
            extra = {"fraction": selection["prune"]["chosen"], "order": order_digest(order)}
        parts, seconds = [], 0.0
        for bucket in buckets:
            tag = {"method": method, "sweep": dataclasses.asdict(sweep), "bucket": bucket, "seeds": seeds,
                   **{k: getattr(config, k) for k in ("noise", "n_clean", "clean_seed", "data_seed")},
                   **({"estimator": config.estimator, "kept": True} if method == "reweight" else {}),
                   **(extra if method in ("mwnet", "prune") else {})}
            part = ctx.store.get(f"{method}_{max(bucket)}", tag)
            if part is None:
                start = time.perf_counter()
                # the look-ahead model is the bucket's padded width: weigh is rebuilt per bucket
                w = weigher(method, width_model("mlp", max(bucket)), config, x_val, y_val, extra)
                part = sweep_widths("mlp", bucket, seeds, data[method], sweep, buckets=[bucket], weigh=w)
                part["seconds"] = time.perf_counter() - start
                ctx.store.put(f"{method}_{max(bucket)}", tag, part)
            parts.append(part)
            seconds += part["seconds"]
            bar.update(len(bucket) * len(seeds))
            bar.set_postfix_str(f"{method} {bucket[0]}-{bucket[-1]}")
        methods[method] = merge_method(parts, widths, seconds)
        methods[method]["n_train"] = int(len(data[method].y))
    bar.close()
    weights = methods["reweight"].pop("example_weight")  # (W, S, N)
    kept = methods["reweight"].pop("example_kept")
    mw_weights = methods["mwnet"].pop("example_weight")
    methods["mwnet"].pop("example_kept")  # sigmoid weights are always positive: every step keeps every example
    i_peak = peak_index(methods["plain"]["test_error"])
    return {"label_noise": data["noise_info"], "n_test": int(len(data["plain"].y_test)), "widths": widths,
            "params": [width_model_params("mlp", w) for w in widths], "seeds": seeds, "methods": methods,
            "wrong_labels": int(data["noisy"].sum()),  # in plain's and reweight's training sets; the oracle's: 0
            "base_rate": float(np.mean(data["noisy"])),
            "noisy_share": noisy_share(weights, data["noisy"], config.lowest).tolist(),
            "noisy_share_kept": noisy_share(kept, data["noisy"], config.lowest).tolist(),
            "noisy_share_mwnet": noisy_share(mw_weights, data["noisy"], config.lowest).tolist(),
            "selection": selection,  # MW-Net's learning rate and the pruned fraction, on the validation rows
            "runtime": {"total_s": time.perf_counter() - t0, "bucket_s": sum(m["seconds"] for m in methods.values()),
                        "selection_s": sum(v["seconds"] for v in selection.values())},
            "peak_width": widths[i_peak],  # the per-example arrays are kept at the peak width only: (S, N)
            "arrays": {"example_weight": weights[i_peak].astype(np.float32),
                       "mwnet_weight": mw_weights[i_peak].astype(np.float32),
                       "example_kept": kept[i_peak].astype(np.float32), "noisy": data["noisy"]}}


def weigher(method: str, model, config: ReweightConfig, x_val, y_val, extra: dict):
    """The per-example weighting of `method` for `model` (the bucket's padded width), or None (plain training)."""
    if method == "reweight":
        return make_weigh(lookahead_problem(model, config.learning_rate, x_val, y_val), config.estimator)
    if method == "mwnet":
        return make_mwnet(model, config.learning_rate, x_val, y_val, extra["meta_lr"])
    return None


def merge_method(parts: list[dict], widths: list[int], seconds: float) -> dict:
    """``{metric: (W, S) list}`` in `widths`' order from the bucket parts (``example_*``: ``(W, S, N)`` arrays)."""
    where = {w: (p, i) for p in parts for i, w in enumerate(p["widths"])}
    out = {"seconds": seconds, "buckets": [b for p in parts for b in p["buckets"]]}
    for k in ("train_error", "test_error", "test_nll"):
        out[k] = [np.asarray(where[w][0][k][where[w][1]]).tolist() for w in widths]
    for k in ("example_weight", "example_kept"):
        if k in parts[0]:
            out[k] = np.stack([np.asarray(where[w][0][k][where[w][1]]) for w in widths])
    return out
