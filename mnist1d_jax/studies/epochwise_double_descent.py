"""Epoch-wise double descent and a label-noise sweep (beyond the paper).

Protocol: the double-descent study's data and training otherwise (4,000 train / 12,000 test examples,
``DatasetConfig(num_samples=16000, train_split=0.25)``, seed 42; SGD lr 0.01, momentum 0.9, batch 100 with a
fresh shuffle every epoch, 500 epochs, cross-entropy, the PyTorch-default init; the two-hidden-layer MLP of
width n without residual, n^2 + 52n + 10 parameters). Label noise as the original notebook makes it: every
training label is redrawn uniformly with probability ``rate`` from NumPy's legacy stream continued after the
generator's draws (at 15 %: 639 of 4,000 selected, 577 changed); test labels stay clean.

Two parts, each one ``sweeps.sweep_widths`` call whose (width, label set, seed) runs train vmapped in one
program per width bucket, evaluated after ``eval_points`` log-spaced epochs (train error against the labels
trained on, test error, both in %):

* **epoch-wise**: test and train error against epoch for every width of ``widths`` at the ``noise`` rate;
* **noise sweep**: at the fixed ``noise_width``, every rate of ``noise_rates`` (the noise rates are the label
  axis of the call; a (width, seed) run shares its init and batch order across rates, so the rates differ in
  their labels only).

The epoch-wise peak of a curve is where its seed-mean test error rises most above its running minimum (the
same rule as the model-wise peak of the double-descent study); a curve has epoch-wise double descent when it
then falls again by more than its seed spread. The paper has no epoch-wise figure; its model-wise MLP peak on
15 % noise is ~54 % at widths 47-61 (4.7-6.9k parameters, about the 4,000 training examples) and the width-300
MLP ends at 45.5 % test error.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from mnist1d_jax.core.sweeps import SweepConfig, sweep_widths
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import Data, label_noise
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.runtime.results import seeds_text
from mnist1d_jax.runtime.validation import Config, choice, fraction, integer, option, positive, real, tuple_of

NAME = "epochwise_double_descent"
TITLE = "Epoch-wise double descent and label-noise sweep (beyond the paper)"
ORIGINAL_MINUTES = None
# A class subset (data.classes) is refused by the runner, as in double_descent: the label noise draws all ten digits.
REFUSES_CLASS_SUBSET = ("its label noise replays the original notebook's draws over all 4,000 training labels "
                        "and relabels examples with any of the ten digits, putting held-out digits back into "
                        "training")

_SEEDS = tuple_of(integer(0, 2**31 - 1), unique=True)


@dataclasses.dataclass(frozen=True)
class EpochwiseConfig(Config):
    """The double-descent protocol with epoch-wise evaluation; two parts (epoch-wise widths, noise sweep)."""

    model: str = option("mlp", choice("mlp", "cnn"), "the double-descent MLP (width) or CNN (channels)")
    widths: tuple[int, ...] = option((8, 16, 27, 47, 80, 135, 300), tuple_of(integer(1, 10_000), unique=True,
                                     increasing=True), "widths of the epoch-wise part")
    noise: float = option(0.15, fraction(hi_open=False), "label-noise rate of the epoch-wise part")
    noise_width: int = option(300, integer(1, 10_000), "the fixed width of the noise sweep")
    noise_rates: tuple[float, ...] = option((0.0, 0.1, 0.15, 0.2, 0.3), tuple_of(fraction(hi_open=False),
                                            unique=True, increasing=True), "label-noise rates of the sweep")
    seeds: tuple[int, ...] = option((0, 1, 2), _SEEDS, "seeds (init and batch order) of every run")
    epochs: int = option(500, integer(1, 1_000_000), "training epochs")
    eval_points: int = option(30, integer(1, 10_000), "log-spaced epochs evaluated (1 .. epochs; fewer if they "
                              "round to the same epoch)")
    learning_rate: float = option(0.01, positive(1e3), "SGD learning rate")
    momentum: float = option(0.9, real(0.0, 1.0, hi_open=True), "SGD momentum")
    batch_size: int = option(100, integer(1, 4000), "examples per batch")
    data_seed: int = option(42, integer(0, 2**32 - 1), "dataset (and label-noise) seed")
    max_buckets: int = option(4, integer(1, 100), "at most this many width buckets per part")

    def eval_epochs(self) -> tuple[int, ...]:
        """The evaluated epochs: ``eval_points`` log-spaced values in 1..epochs, rounded, duplicates dropped."""
        return tuple(sorted({int(round(e)) for e in np.geomspace(1, self.epochs, self.eval_points)}))

    def sweep(self) -> SweepConfig:
        return SweepConfig(learning_rate=self.learning_rate, momentum=self.momentum, batch_size=self.batch_size,
                           epochs=self.epochs, eval_epochs=self.eval_epochs())


Config = EpochwiseConfig
QUICK = EpochwiseConfig(widths=(3, 8), noise_width=8, noise_rates=(0.0, 0.3), seeds=(0,), epochs=2, eval_points=2)
PAPER_SEEDS: dict = {}
KEYS = ("train_error", "test_error", "train_nll", "test_nll")


def _part(ctx, bar, name: str, config: EpochwiseConfig, widths, rates, data: Data, label_sets) -> dict:
    """One ``sweep_widths`` call (kept in the store under everything that determines it); ``bar`` counts runs."""
    tag = {"sweep": dataclasses.asdict(config.sweep()), "model": config.model, "widths": list(widths),
           "rates": list(rates), "seeds": list(config.seeds), "data_seed": config.data_seed}
    part = ctx.store.get(name, tag)
    if part is None:
        t0 = time.perf_counter()
        def progress(info):
            bar.update(len(info["widths"]) * len(rates) * len(config.seeds))
            bar.set_postfix_str(f"{name}: widths {info['widths'][0]}-{info['widths'][-1]}")

        out = sweep_widths(config.model, widths, config.seeds, data, config.sweep(), labels=label_sets,
                           max_buckets=config.max_buckets, progress=progress)
        part = {"widths": out["widths"], "params": out["params"], "seconds": time.perf_counter() - t0,
                "cpu_seconds": sum(b["cpu_seconds"] for b in out["buckets"]),
                **{k: np.asarray(out[k]) for k in KEYS}}  # (W, L, S, K)
        ctx.store.put(name, tag, part)
    else:
        bar.update(len(widths) * len(rates) * len(config.seeds))
    return part


def run(config: EpochwiseConfig, ctx) -> dict:
    """Both parts; the record has per part the widths / rates, seeds, epochs and the (W or L, S, K) errors (%),
    and each curve's epoch-wise peak."""
    dcfg = DatasetConfig(num_samples=16000, train_split=0.25, seed=config.data_seed)
    ds = get_dataset(dcfg)
    data = Data(ds.x, ds.y, ds.x_test, ds.y_test)
    noisy = {rate: label_noise(ds.y, dcfg, rate) for rate in sorted({config.noise, *config.noise_rates})}
    epochs = list(config.eval_epochs())
    runs = (len(config.widths) + len(config.noise_rates)) * len(config.seeds)
    bar = ctx.bar(runs, "(width, noise rate, seed) runs", "run")
    wide = _part(ctx, bar, "epochwise", config, config.widths, [config.noise], data, [noisy[config.noise][0]])
    sweep = _part(ctx, bar, "noise_sweep", config, [config.noise_width], config.noise_rates, data,
                  [noisy[r][0] for r in config.noise_rates])
    bar.close()
    epochwise = {"widths": wide["widths"], "params": wide["params"], "seconds": wide["seconds"],
                 **{k: np.asarray(wide[k])[:, 0].tolist() for k in KEYS}}  # (W, S, K)
    epochwise["peaks"] = [epoch_peak(epochs, np.asarray(epochwise["test_error"])[i],
                                     np.asarray(epochwise["train_error"])[i]) for i in range(len(wide["widths"]))]
    noise = {"width": config.noise_width, "params": sweep["params"][0], "rates": list(config.noise_rates),
             "seconds": sweep["seconds"], "label_noise": {str(r): noisy[r][1] for r in config.noise_rates},
             **{k: np.asarray(sweep[k])[0].tolist() for k in KEYS}}  # (L, S, K)
    noise["peaks"] = [epoch_peak(epochs, np.asarray(noise["test_error"])[i], np.asarray(noise["train_error"])[i])
                      for i in range(len(config.noise_rates))]
    modelwise = model_wise_peaks(epochwise)
    return {"epochs": epochs, "n_train": int(len(ds.y)), "n_test": int(len(ds.y_test)),
            "label_noise": noisy[config.noise][1], "epochwise": epochwise, "noise_sweep": noise,
            "model_wise": modelwise}


def epoch_peak(epochs: list[int], test_error: np.ndarray, train_error: np.ndarray) -> dict:
    """The epoch-wise peak of one curve: ``test_error, train_error (S, K)`` in % over the evaluated ``epochs``.

    The peak is where the seed-mean test error rises most above its running minimum; the dip is the minimum
    before it; ``second_descent`` is how far the error falls after the peak by the last epoch (points), and
    ``double_descent`` says whether that fall and the rise both exceed the seed spread (the largest per-seed
    range at those epochs; with one seed, 0.5 points)."""
    te, tr = np.asarray(test_error, float), np.asarray(train_error, float)
    mean = te.mean(0)
    rise = mean - np.minimum.accumulate(mean)
    k_peak = int(np.argmax(rise))
    k_dip = int(np.argmin(mean[: k_peak + 1]))
    spread = float(np.ptp(te[:, [k_dip, k_peak, -1]], axis=0).max()) if te.shape[0] > 1 else 0.5
    fall = float(mean[k_peak] - mean[-1])
    return {"dip_epoch": epochs[k_dip], "dip_test_error": float(mean[k_dip]),
            "peak_epoch": epochs[k_peak], "peak_test_error": float(mean[k_peak]),
            "peak_train_error": float(tr.mean(0)[k_peak]), "final_test_error": float(mean[-1]),
            "final_train_error": float(tr.mean(0)[-1]), "rise": float(rise[k_peak]), "second_descent": fall,
            "seed_spread": spread, "double_descent": bool(rise[k_peak] > spread and fall > spread)}


def model_wise_peaks(part: dict) -> dict:
    """At every evaluated epoch, the model-wise peak over the widths by the double-descent study's rule: the
    width whose seed-mean test error rises most above the running minimum over the smaller widths (a peak
    past the first minimum; 0 rise when the error only falls with width)."""
    te = np.asarray(part["test_error"]).mean(1)  # (W, K)
    rise = te - np.minimum.accumulate(te, axis=0)
    at = np.argmax(rise, axis=0)
    cols = np.arange(te.shape[1])
    return {"peak_width": [part["widths"][i] for i in at], "peak_params": [part["params"][i] for i in at],
            "peak_test_error": te[at, cols].tolist(), "rise": rise[at, cols].tolist()}


# --------------------------------------------------------------------------------------------------------------
# Figure and report (from the record only)
# --------------------------------------------------------------------------------------------------------------
def draw(record: dict, out: str | Path) -> list[Path]:
    """``epochwise_double_descent.png``: error vs epoch per width; error vs epoch per noise rate; the final
    and best test error against the noise rate; test error over (epoch, width)."""
    import matplotlib  # local: matplotlib costs half a second of every command's start-up

    epochs = np.asarray(record["epochs"])
    ew, ns = record["epochwise"], record["noise_sweep"]
    fig, axes = new_figure(1, 4, figsize=(19, 4.4))
    cmap = matplotlib.colormaps["viridis"]
    for ax, curves, labels, title in (
            (axes[0], ew, [f"width {w} ({p:,} p)" for w, p in zip(ew["widths"], ew["params"], strict=True)],
             f"{100 * record['config']['noise']:g}% label noise, per width"),
            (axes[1], ns, [f"{100 * r:g}% noise" for r in ns["rates"]],
             f"width {ns['width']} ({ns['params']:,} params), per noise rate")):
        te, tr = np.asarray(curves["test_error"]), np.asarray(curves["train_error"])
        for i, lab in enumerate(labels):
            c = cmap(i / max(1, len(labels) - 1))
            ax.plot(epochs, te[i].mean(0), "-", color=c, label=lab)
            if te.shape[1] > 1:
                ax.fill_between(epochs, te[i].min(0), te[i].max(0), color=c, alpha=0.15)
            ax.plot(epochs, tr[i].mean(0), "--", color=c, lw=0.8)
            pk = curves["peaks"][i]
            if pk["double_descent"]:
                ax.plot(pk["peak_epoch"], pk["peak_test_error"], "v", color=c, ms=7)
        ax.set_xscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("error (%); test solid, train dashed")
        ax.set_title(title + "\n(▼: epoch-wise peak followed by a second descent)", fontsize=9)
        ax.legend(fontsize=7)
    rates = 100 * np.asarray(ns["rates"])
    te = np.asarray(ns["test_error"])
    axes[2].errorbar(rates, te[:, :, -1].mean(1), yerr=te[:, :, -1].std(1), marker="o", label="test, last epoch")
    axes[2].errorbar(rates, te.mean(1).min(1), marker="s", label="test, best epoch (seed mean)")
    axes[2].plot(rates, np.asarray(ns["train_error"])[:, :, -1].mean(1), "--", marker="o", label="train, last epoch")
    axes[2].set_xlabel("label noise (%)")
    axes[2].set_ylabel("error (%)")
    axes[2].set_title(f"noise sweep at width {ns['width']}", fontsize=9)
    axes[2].legend(fontsize=7)
    heat = np.asarray(ew["test_error"]).mean(1)
    # the colour range starts at the lowest error: the early epochs' 80-90 % would wash out the structure
    im = axes[3].pcolormesh(epochs, np.arange(len(ew["widths"])), heat, shading="nearest", cmap="magma",
                            vmin=heat.min(), vmax=heat.min() + 20)
    mw = record["model_wise"]
    peaked = [k for k, r in enumerate(mw["rise"]) if r > 1.0]  # a rise of over 1 point: not noise
    axes[3].plot(epochs[peaked], [ew["widths"].index(mw["peak_width"][k]) for k in peaked], "o", color="w", ms=3,
                 label="model-wise peak")
    axes[3].legend(fontsize=7, loc="lower left")
    axes[3].set_xscale("log")
    axes[3].set_yticks(range(len(ew["widths"])), [str(w) for w in ew["widths"]])
    axes[3].set_xlabel("epoch")
    axes[3].set_ylabel("width")
    axes[3].set_title("test error (%) over epoch and width (dots: the model-wise peak)", fontsize=9)
    fig.colorbar(im, ax=axes[3])
    cfg = record["config"]
    fig.suptitle(f"Epoch-wise double descent on MNIST-1D ({cfg['model'].upper()}, {record['n_train']:,} train / "
                 f"{record['n_test']:,} test, SGD {cfg['epochs']} epochs, {seeds_text(len(cfg['seeds']))})",
                 fontsize=10)
    fig.tight_layout()
    return [save_figure(fig, Path(out) / f"{NAME}.png", dpi=100)]


def report_rows(record: dict) -> list[dict]:
    """Rows for the report: every width's epoch-wise peak, the noise sweep, where the peaks sit."""
    ew, ns = record["epochwise"], record["noise_sweep"]
    rows = []
    for w, p, pk in zip(ew["widths"], ew["params"], ew["peaks"], strict=True):
        rows.append({"quantity": f"epoch-wise, width {w} ({p:,} params): dip → peak → last epoch (test %, epoch)",
                     "paper": "n/a (no epoch-wise figure)",
                     "ours": f"{pk['dip_test_error']:.1f} @{pk['dip_epoch']} → {pk['peak_test_error']:.1f} "
                             f"@{pk['peak_epoch']} (train {pk['peak_train_error']:.1f}) → "
                             f"{pk['final_test_error']:.1f}; double descent: "
                             f"{'yes' if pk['double_descent'] else 'no'}"})
    if ew["widths"][-1] == 300 and record["config"]["noise"] == 0.15:
        rows.append({"quantity": "width 300, 15 % noise: test error at the last epoch (%)", "paper": "45.5 (Fig. 4)",
                     "ours": f"{ew['peaks'][-1]['final_test_error']:.1f}"})
    finals = [f"{100 * r:g} %: {np.mean(np.asarray(e)[:, -1]):.1f}" for r, e in zip(ns["rates"], ns["test_error"],
                                                                                     strict=True)]
    rows.append({"quantity": f"noise sweep, width {ns['width']}: test error at the last epoch (%)",
                 "paper": "n/a", "ours": "; ".join(finals)})
    bests = [f"{100 * r:g} %: {np.asarray(e).mean(0).min():.1f}" for r, e in zip(ns["rates"], ns["test_error"],
                                                                                  strict=True)]
    rows.append({"quantity": f"noise sweep, width {ns['width']}: best test error over epochs (%)",
                 "paper": "n/a", "ours": "; ".join(bests)})
    mw, epochs = record["model_wise"], record["epochs"]
    rows.append({"quantity": "model-wise peak (rise above the running minimum over widths) at the last epoch",
                 "paper": "47-61 (4.7-6.9k params)",
                 "ours": f"width {mw['peak_width'][-1]} ({mw['peak_params'][-1]:,} params), "
                         f"{mw['peak_test_error'][-1]:.1f} % (+{mw['rise'][-1]:.1f} over the smaller widths)"})
    shown = sorted({len(epochs) // 2, (3 * len(epochs)) // 4, len(epochs) - 1})
    rows.append({"quantity": "model-wise peak width as training goes on (epoch: width, rise)", "paper": "n/a",
                 "ours": "; ".join(f"{epochs[k]}: {mw['peak_width'][k]} (+{mw['rise'][k]:.1f})" for k in shown)})
    rows.append({"quantity": "runtime: epoch-wise part / noise sweep (min)", "paper": "n/a",
                 "ours": f"{ew['seconds'] / 60:.1f} / {ns['seconds'] / 60:.1f}"})
    return rows
