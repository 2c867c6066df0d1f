"""Learning to reweight examples (beyond the paper): does a metalearned weight per example remove the noisy
double-descent peak?

Method (after Ren et al. 2018, written here from the paper): at every training step each example of the batch
gets a weight eps_i, starting at 0, on its cross-entropy; one look-ahead SGD step (the training step size) on
``sum_i eps_i * loss_i`` gives look-ahead params, and the meta-gradient of the *clean* validation loss at those
params with respect to eps (a one-step `meta.InnerProblem`: meta = eps, objective = the clean loss; its exact
reverse-mode estimator, ``meta.exact``, or forward mode, called inside the jitted training scan) scores every
example. The weights are ``w = max(-grad, 0)`` normalised to sum to 1 over the batch (all zero: every weight 0,
the step's gradient is zero and only the momentum moves the params), and the real optimiser step minimises
``sum_i w_i * loss_i`` (``sweeps.train_weighted``). At eps = 0 the look-ahead params are the current ones, so
``-grad_i`` is the step size times the dot product of example i's gradient with the clean-loss gradient: an
example counts only when it pulls the same way as the clean data, and the step size does not change the
normalised weights.

Protocol: the noisy-MLP panel of the double-descent study. 4,000 train / 12,000 test examples (16,000 made with
seed 42, 25 % training), the original notebook's 15 % label noise (each training label replaced by a uniform
random digit with probability 0.15: 577 of 4,000 wrong), the MLP with two hidden layers of width n, SGD 0.01
with momentum 0.9, batch 100 with a fresh shuffle every epoch, 500 epochs, test error at the end. ``n_clean`` =
200 training rows drawn with ``clean_seed`` (``data.clean_split``) keep their true labels as the clean
validation set. Five methods, each a ``sweeps.sweep_widths`` call per width bucket (every (width, seed) in one
vmapped program at the width's true fan-in init, padded and masked):

* plain: all 4,000 rows, the 200 with their true labels (the same data the others see; otherwise the
  double-descent protocol, whose curve this is: ~548 wrong labels instead of 577);
* reweight: the other 3,800 rows (noisy labels) trained with the weights above, the 200 clean rows only in the
  meta-objective;
* oracle: only the rows whose label is right (the clean 200 included), the wrong ones dropped;
* mwnet: Meta-Weight-Net (``studies/reweight_mwnet.py``) on reweighting's data: a 1-100-1 net maps each
  example's loss to a weight in (0, 1), normalised by the batch sum; the net takes one Adam step per training
  step along the same one-step look-ahead meta-gradient (meta = the net's params), then weighs the real step;
* prune ("meta-gradient cleaning", ``studies/reweight_select.py``): the 3,800 noisy rows ranked by how often
  the reweighting runs kept them (kept share averaged over every width and seed), the least often kept
  fraction dropped, the rest plus the clean 200 (true labels) trained plainly.

The peak width is where the plain curve's mean test error rises most above its running minimum over smaller
widths. How well the weights find the wrong labels: each example's weight averaged over all of training (the
mean of the normalised weights it got in the ~500 batches it was in), the lowest 15 % of the 3,800 taken, and
the share of wrong labels among them, against the base rate (the share of wrong labels in the 3,800). A mean
weight mixes how often an example is kept with how large its gradient is when kept, so the same share is also
given for the 15 % least often kept (the share of its steps in which its weight was positive).

Settings chosen on the clean validation rows (``reweight_select``; one seed at plain's peak width, the full
protocol, trained without the clean rows, which score it; the lowest validation error wins): MW-Net's Adam
learning rate from ``meta_lrs`` (1e-4, 1e-3 (the paper's), 1e-2) and the pruned fraction from
``prune_fractions`` (0, 5, 10, 15, 20 %). Reweighting itself is not tuned: it has no setting beyond the
protocol's (the look-ahead step is the training step size; at eps = 0 it only scales the weights before they
are normalised). No test number chose anything.
The kept-share ranking was added after the first full run showed that the mean weight ranks wrong labels
*above* right ones at large widths (a wrong label, never fitted, has a large gradient whenever it is kept); it
is a second measurement of the same runs, not a setting. What the default run found (3 seeds): plain training
peaks at width 47 (54.4 ± 0.6 % test error); reweighting flattens the curve to 50-53 % at every width from 16
on (51.2 ± 0.3 at 47: 3.2 points lower, short of a 5-point goal) but ends above plain training from width 80 on
(52.3 vs 45.2 at 300), its train error stuck near 20 %; the oracle has no peak (42.6 at 47, 38.5 at 300).
MW-Net's learning rate try (width 47, seed 0, validation error): 1e-4: 57.5 %, 1e-3: 72.0 %, 1e-2: 92.5 %
(diverged), so 1e-4; with it MW-Net does *not* help: 56.8 ± 1.9 at 47 (2.4 points above plain), 57.3 at 36,
46.1 at 300. Its learned weight grows with the loss, so it up-weights the wrong labels (2 % wrong labels among
its lowest-weighted 15 % at the peak, base rate 14.4 %); an earlier trial with other init draws had picked
1e-3 instead (1e-4: 65.5, 1e-3: 56.5), so the choice itself is fragile. Pruning: the validation error falls
with every fraction tried (0: 59.5, 5 %: 50.0, 10 %: 47.5, 15 %: 42.0, 20 %: 41.5), so 20 % (the grid's edge:
760 rows dropped, 236 of 546 wrong labels left); retrained plainly it reaches 49.2 ± 0.6 at 47 (5.2 points
below plain: the goal met, barely) and falls steadily with width (44.1 at 300), the peak gone; its ranking
needs the reweighting runs first (their cost comes with it).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta
from mnist1d_jax.core.step import apply_mask, cross_entropy
from mnist1d_jax.core.sweeps import SweepConfig, bucket_widths, cost_fn, sweep_widths
from mnist1d_jax.data.clean_split import clean_validation_split
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import Data, label_noise
from mnist1d_jax.nn.models import width_model, width_model_params
from mnist1d_jax.runtime.backend import bucket_plan
from mnist1d_jax.runtime.results import mean_std
from mnist1d_jax.runtime.validation import Config, choice, fraction, integer, option, positive, real, tuple_of
from mnist1d_jax.studies.reweight_draw import METHODS, draw, noisy_share, peak_index
from mnist1d_jax.studies.reweight_mwnet import VERSION as MWNET_VERSION
from mnist1d_jax.studies.reweight_mwnet import make_mwnet, per_example_nll
from mnist1d_jax.studies.reweight_select import choose_fraction, choose_meta_lr, order_digest, prune_data, prune_order

NAME = "reweight"
TITLE = "Learning to reweight examples against the noisy double-descent peak (beyond the paper)"
ORIGINAL_MINUTES = None
REFUSES_CLASS_SUBSET = ("its label noise replays the original notebook's draws over all 4,000 training labels and "
                        "relabels examples with any of the ten digits")
ESTIMATORS = ("exact", "forward")


@dataclasses.dataclass(frozen=True)
class ReweightConfig(Config):
    widths: tuple[int, ...] = option((8, 16, 27, 36, 47, 61, 80, 135, 300),
                                     tuple_of(integer(1, 10_000), unique=True, increasing=True), "MLP hidden widths")
    seeds: tuple[int, ...] = option((0, 1, 2), tuple_of(integer(0, 2**31 - 1), unique=True), "seeds per width")
    noise: float = option(0.15, fraction(hi_open=False), "label-noise rate")
    n_clean: int = option(200, integer(10, 2000), "training rows kept clean as the meta-objective's validation set")
    clean_seed: int = option(0, integer(0, 2**32 - 1), "which rows are the clean validation set")
    estimator: str = option("exact", choice(*ESTIMATORS), "meta-gradient of the look-ahead (the same numbers)")
    epochs: int = option(500, integer(1, 1_000_000), "training epochs")
    learning_rate: float = option(0.01, positive(1e3), "SGD learning rate (and look-ahead step)")
    momentum: float = option(0.9, real(0.0, 1.0, hi_open=True), "SGD momentum")
    batch_size: int = option(100, integer(1, 1000), "examples per batch")
    lowest: float = option(0.15, fraction(lo_open=True), "share of lowest-weighted examples scored for noise")
    data_seed: int = option(42, integer(0, 2**32 - 1), "dataset (and label-noise) seed")
    max_buckets: int = option(4, integer(1, 100), "at most this many width buckets")
    meta_lrs: tuple[float, ...] = option((1e-4, 1e-3, 1e-2), tuple_of(positive(10.0), unique=True),
                                         "MW-Net Adam learning rates tried (chosen on the clean validation rows)")
    prune_fractions: tuple[float, ...] = option((0.0, 0.05, 0.1, 0.15, 0.2), tuple_of(fraction(), unique=True),
                                                "least often kept shares dropped before plain retraining (tried)")
    select_seed: int = option(0, integer(0, 2**31 - 1), "the one seed of the settings' tries (validation rows)")


Config = ReweightConfig
QUICK = ReweightConfig(widths=(3, 6), seeds=(0,), epochs=1, meta_lrs=(1e-3, 1e-2), prune_fractions=(0.0, 0.1))
PAPER_SEEDS: dict = {}


# ----------------------------------------------------------------------------------------------------------------
# the look-ahead as a one-step inner problem, and the weights it gives
def lookahead_problem(model, learning_rate: float, x_val, y_val) -> meta.InnerProblem:
    """One SGD step (`learning_rate`, no momentum) of `model` from ``context["params"]`` (masked by
    ``context["mask"]``) on ``sum_i meta[i] * loss_i`` over the batch ``context["x"] (B, D), ["y"] (B,)``;
    ``meta`` is eps ``(B,)``; the objective is the mean cross-entropy on ``x_val (V, D), y_val (V,)``."""
    def logits(params, mask, x):
        return model.apply({"params": apply_mask(params, mask)}, x)

    def weighted_loss(eps, params, batch):
        x, y, mask = batch
        return jnp.sum(eps * per_example_nll(logits(params, mask, x), y))

    def clean_loss(eps, params, key, context):
        return cross_entropy(logits(params, context["mask"], x_val), y_val)

    return meta.inner_problem(meta.classifier_task(model), optax.sgd(learning_rate),
                              lambda eps, t, key, c: (c["x"], c["y"], c["mask"]), num_steps=1,
                              loss=weighted_loss, init=lambda eps, key, c: c["params"], objective=clean_loss)


def normalise(score):
    """``max(score, 0)`` scaled to sum 1 over the batch ``(B,)``; all zero when no score is positive."""
    raw = jnp.maximum(score, 0.0)
    total = jnp.sum(raw)
    return jnp.where(total > 0, raw / jnp.where(total > 0, total, 1.0), 0.0)


def make_weigh(problem: meta.InnerProblem, estimator: str = "exact"):
    """``weigh(params, mask, (x (B, D), y (B,)), key) -> w (B,)`` for ``sweeps.train_weighted``: the normalised
    negative meta-gradient of `problem`'s objective with respect to eps at eps = 0."""
    est = meta.exact(problem, checkpoint=False) if estimator == "exact" else meta.forward(problem)

    def weigh(params, mask, batch, key):
        x, y = batch
        context = {"params": params, "mask": mask, "x": x, "y": y}
        _, grad, _ = est.grad(jnp.zeros(y.shape, jnp.float32), (), key, context)
        return normalise(-grad)

    return weigh


# ----------------------------------------------------------------------------------------------------------------
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
    from mnist1d_jax.data.classes import refuse_class_subset

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
                w = _weigher(method, width_model("mlp", max(bucket)), config, x_val, y_val, extra)
                part = sweep_widths("mlp", bucket, seeds, data[method], sweep, buckets=[bucket], weigh=w)
                part["seconds"] = time.perf_counter() - start
                ctx.store.put(f"{method}_{max(bucket)}", tag, part)
            parts.append(part)
            seconds += part["seconds"]
            bar.update(len(bucket) * len(seeds))
            bar.set_postfix_str(f"{method} {bucket[0]}-{bucket[-1]}")
        methods[method] = _merge(parts, widths, seconds)
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


def _weigher(method: str, model, config: ReweightConfig, x_val, y_val, extra: dict):
    """The per-example weighting of `method` for `model` (the bucket's padded width), or None (plain training)."""
    if method == "reweight":
        return make_weigh(lookahead_problem(model, config.learning_rate, x_val, y_val), config.estimator)
    if method == "mwnet":
        return make_mwnet(model, config.learning_rate, x_val, y_val, extra["meta_lr"])
    return None


def _merge(parts: list[dict], widths: list[int], seconds: float) -> dict:
    """``{metric: (W, S) list}`` in `widths`' order from the bucket parts (``example_*``: ``(W, S, N)`` arrays)."""
    where = {w: (p, i) for p in parts for i, w in enumerate(p["widths"])}
    out = {"seconds": seconds, "buckets": [b for p in parts for b in p["buckets"]]}
    for k in ("train_error", "test_error", "test_nll"):
        out[k] = [np.asarray(where[w][0][k][where[w][1]]).tolist() for w in widths]
    for k in ("example_weight", "example_kept"):
        if k in parts[0]:
            out[k] = np.stack([np.asarray(where[w][0][k][where[w][1]]) for w in widths])
    return out


# ----------------------------------------------------------------------------------------------------------------
def report_rows(record: dict) -> list[dict]:
    """Peak width, test error per method there, the drop, the goal, and the noisy share among the lowest."""
    ms = record["methods"]
    i = peak_index(ms["plain"]["test_error"])
    w = record["widths"][i]
    err = {m: np.asarray(ms[m]["test_error"][i]) for m in METHODS}
    share, kept = np.asarray(record["noisy_share"]), np.asarray(record["noisy_share_kept"])
    low = int(100 * record["config"]["lowest"])
    rows = [{"quantity": "peak width of plain training (the largest rise of mean test error over its running "
                         "minimum)", "paper": "-", "ours": f"{w} ({record['params'][i]:,} params)"}]
    for m in METHODS:
        rows.append({"quantity": f"test error at the peak, {m} (%, {ms[m]['n_train']:,} training rows)",
                     "paper": "-", "ours": mean_std(err[m])})
    for m in (m for m in METHODS if m not in ("plain", "oracle")):
        drop = float(err["plain"].mean() - err[m].mean())
        rows.append({"quantity": f"drop at the peak, plain - {m} (points; goal >= 5)", "paper": "-",
                     "ours": f"{drop:.1f} (goal {'met' if drop >= 5 else 'not met'})"})
    sel = record["selection"]["mwnet"]
    tried = ", ".join(f"{lr:g}: {e:.1f}" for lr, e in zip(sel["meta_lrs"], sel["val_error"], strict=True))
    rows.append({"quantity": f"MW-Net Adam learning rate (chosen on the clean validation rows at width "
                             f"{sel['width']}, seed {sel['seed']}: their error in %)", "paper": "-",
                 "ours": f"{sel['chosen']:g} ({tried})"})
    sel = record["selection"]["prune"]
    tried = ", ".join(f"{f:g}: {e:.1f}" for f, e in zip(sel["fractions"], sel["val_error"], strict=True))
    rows.append({"quantity": "pruned share of the 3,800 noisy rows, least often kept first (chosen on the clean "
                             "validation rows: their error in %)", "paper": "-",
                 "ours": f"{sel['chosen']:g} ({tried}); {sel['wrong_labels']} wrong labels left"})
    rows.append({"quantity": f"wrong labels among the lowest-weighted {low} % (weights averaged over all of "
                             f"training; base rate {100 * record['base_rate']:.1f} %)", "paper": "-",
                 "ours": f"{mean_std(100 * share[i])} at the peak; {100 * share.mean():.1f} over all widths"})
    rows.append({"quantity": f"wrong labels among the {low} % least often kept (share of an example's steps with a "
                             "positive weight)", "paper": "-",
                 "ours": f"{mean_std(100 * kept[i])} at the peak; {100 * kept.mean():.1f} over all widths"})
    mw = np.asarray(record["noisy_share_mwnet"])
    rows.append({"quantity": f"wrong labels among MW-Net's lowest-weighted {low} % (mean weight over training)",
                 "paper": "-", "ours": f"{mean_std(100 * mw[i])} at the peak; {100 * mw.mean():.1f} over all widths"})
    return rows


__all__ = ["Config", "QUICK", "ReweightConfig", "draw", "lookahead_problem", "make_weigh", "normalise",
           "report_rows", "run"]
