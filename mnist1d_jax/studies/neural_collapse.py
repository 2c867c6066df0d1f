"""Neural collapse per layer and epoch for the Table-1 CNN trained into its terminal phase (beyond the paper).

Protocol: the Table-1 CNN (three convolutions of 25 channels, kernels 5/3/3, stride 2, padding 1, ReLU, a
linear head on the 125 features; PyTorch-default init) on the frozen 4,000 / 1,000 examples, trained by SGD
with momentum 0.9, coupled weight decay 5e-4 and a rate 0.05 decayed to 0 by a cosine (the usual
neural-collapse recipe: SGD, weight decay, a decaying rate and a long run) with batch 100 and a fresh shuffle
every epoch, for 2,000 epochs (80,000 steps), far past the epoch where the training error reaches 0 (the
terminal phase). After ``eval_points`` log-spaced epochs, on the training set and on the test set, every layer's
activations ``h (N, D)`` (conv1 475, conv2 250, conv3 125 values) are measured with
`mnist1d_jax.analysis.representations`:

* NC1, within-class variability: ``trace_ratio`` = Tr(Σ_W) / Tr(Σ_T) and ``papyan`` = Tr(Σ_W Σ_B⁺) / K;
* NC2, the class means' simplex: ``equinorm`` (std / mean of the centred means' norms) and
  ``equiangularity`` (std of their pairwise cosines), and the largest deviation of a cosine from -1/(K-1);
* NC3 (last layer only), self-duality: |W/|W| - M/|M||² between the head's rows and the centred class means;
* NC4 (last layer only), nearest class mean: ``agreement``, the fraction of examples whose nearest class mean
  (the class means of the same split's features) is the network's prediction, and ``mismatch`` = 1 - agreement.

All seeds train in one vmapped program with the measurements inside it (``core.train``'s evaluation hook, at
log-spaced steps). At the end, linear CKA between every pair of (input, conv1, conv2, conv3, logits) on the
test set. The paper has no neural-collapse figure; Papyan et al. report NC1 (their variant) falling by orders
of magnitude during the terminal phase, and the collapse is strongest in the last layer.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.analysis import representations as rep
from mnist1d_jax.core.parallel import replicate, spread_leading, take_leading
from mnist1d_jax.core.runs import TrainConfig, train
from mnist1d_jax.core.schedules import EpochShuffle
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.nn.models import CNN
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.runtime.precision import use_precision
from mnist1d_jax.runtime.results import mean_std, seeds_text
from mnist1d_jax.runtime.validation import Config, choice, integer, option, positive, real, tuple_of

NAME = "neural_collapse"
TITLE = "Neural collapse per layer, Table-1 CNN in its terminal phase (beyond the paper)"
ORIGINAL_MINUTES = None
# A class subset (data.classes) is refused by the runner: the protocol needs all ten digits present.
REFUSES_CLASS_SUBSET = ("its epochs are passes over all 4,000 training examples and its collapse measures (the "
                        "simplex of the K = 10 class means, self-duality with the head's ten rows) need every digit")
K = 10
LAYERS = ("conv1", "conv2", "conv3")
SPLITS = ("train", "test")
LAYER_METRICS = ("nc1_trace_ratio", "nc1_papyan", "nc2_equinorm", "nc2_equiangularity", "nc2_max_angle_deviation")
LAST_METRICS = ("nc3_self_duality", "nc4_agreement", "nc4_mismatch")


@dataclasses.dataclass(frozen=True)
class CollapseConfig(Config):
    epochs: int = option(2000, integer(1, 1_000_000), "training epochs (40 steps each)")
    optimizer: str = option("sgd", choice("sgd", "adam", "adamw"), "the optimiser")
    learning_rate: float = option(0.05, positive(10.0), "peak learning rate")
    momentum: float = option(0.9, real(0.0, 1.0, hi_open=True), "SGD momentum")
    weight_decay: float = option(5e-4, real(0.0, 1.0), "weight decay")
    schedule: str = option("cosine", choice("constant", "cosine"), "learning-rate schedule over the run")
    batch_size: int = option(100, integer(1, 4000), "examples per batch")
    eval_points: int = option(24, integer(1, 10_000), "log-spaced epochs measured (1 .. epochs)")
    seeds: tuple[int, ...] = option((0, 1, 2), tuple_of(integer(0, 2**31 - 1), unique=True), "training seeds")

    def eval_epochs(self) -> tuple[int, ...]:
        """The measured epochs: ``eval_points`` log-spaced values in 1..epochs, rounded, duplicates dropped."""
        return tuple(sorted({int(round(e)) for e in np.geomspace(1, self.epochs, self.eval_points)}))

    def steps_per_epoch(self) -> int:
        return 4000 // self.batch_size

    def train_config(self) -> TrainConfig:
        """``T = epochs * steps_per_epoch - 1`` (``train`` runs T + 1 updates), measured after each epoch's end;
        the batch schedule (a shuffle per epoch) is passed to ``train`` by the study, so ``protocol`` is unused."""
        per = self.steps_per_epoch()
        total = self.epochs * per - 1
        return TrainConfig(model="cnn", protocol="harness", optimizer=self.optimizer, learning_rate=self.learning_rate,
                           weight_decay=self.weight_decay, momentum=self.momentum, batch_size=self.batch_size,
                           schedule=self.schedule,
                           total_steps=total, eval_every=total, eval_at=tuple(e * per - 1 for e in self.eval_epochs()))


Config = CollapseConfig
QUICK = CollapseConfig(epochs=2, eval_points=2, seeds=(0,))
PAPER_SEEDS: dict = {}


def measure(params, data) -> dict:
    """Every metric of every layer on the training and the test set, and the errors (%): scalars."""
    layers_model = CNN(return_layers=True)
    out = {}
    for split, (xs, ys) in zip(SPLITS, ((data.x, data.y), (data.x_test, data.y_test)), strict=True):
        layers, logits = layers_model.apply({"params": params}, xs)
        out[f"{split}_error"] = 100.0 * jnp.mean(jnp.argmax(logits, -1) != ys)
        for name, h in zip(LAYERS, layers, strict=True):
            m = {**rep.nc1(h, ys, K, "all"), **rep.nc2(h, ys, K)}
            if name == LAYERS[-1]:
                m.update(rep.nc3(h, ys, params["Dense_0"]["kernel"].T, K))
                m.update(rep.nc4(h, ys, logits, K, "all"))
            out.update({f"{split}/{name}/{k}": v for k, v in m.items()})
    return out


def cka_matrix(params, x) -> jax.Array:
    """``(5, 5)`` linear CKA between input, conv1, conv2, conv3 and logits on ``x``."""
    layers, logits = CNN(return_layers=True).apply({"params": params}, x)
    reps = [x, *layers, logits]
    return jnp.stack([jnp.stack([rep.linear_cka(a, b) for b in reps]) for a in reps])


@functools.partial(jax.jit, static_argnames=("config",))
def _train_all(keys, data, order_keys, config: CollapseConfig):
    tc = config.train_config()

    def one(key, order_key):
        schedule = EpochShuffle(data.x, data.y, config.batch_size, jax.random.split(order_key, config.epochs))
        state, metrics, _ = train(key, data, tc, schedule=schedule,
                                  evaluate=lambda st: measure(st.params, data))
        return metrics, cka_matrix(state.params, data.x_test)

    return jax.vmap(one)(keys, order_keys)


def run(config: CollapseConfig, ctx) -> dict:
    """Every seed in one program; the record has ``(S, E)`` tables per split/layer/metric."""
    data = prepare_data(get_dataset())
    tag = dataclasses.asdict(config)
    part = ctx.store.get("runs", tag)
    if part is None:
        bar = ctx.bar(1, f"{len(config.seeds)} seeds x {config.epochs} epochs, one program", "program")
        keys = jnp.stack([jax.random.key(s) for s in config.seeds])
        order_keys = jnp.stack([jax.random.fold_in(jax.random.key(s), 1) for s in config.seeds])
        spread, n = spread_leading(keys)
        order_spread, _ = spread_leading(order_keys)
        t0 = time.perf_counter()
        with use_precision(None):
            metrics, cka = take_leading(_train_all(spread, replicate(data), order_spread, config), n)
        metrics, cka = jax.device_get((metrics, cka))
        part = {"metrics": {k: np.asarray(v) for k, v in metrics.items() if k not in ("batch_loss",)},
                "cka": np.asarray(cka), "seconds": time.perf_counter() - t0}
        ctx.store.put("runs", tag, part)
        bar.update(1)
        bar.close()
    m = part["metrics"]
    tables = {k: np.asarray(v).tolist() for k, v in m.items() if k != "step"}
    train_err = np.asarray(m["train_error"]).mean(0)
    zero = [e for e, v in zip(config.eval_epochs(), train_err, strict=True) if v == 0]
    return {"epochs": list(config.eval_epochs()), "layers": list(LAYERS), "metrics": tables,
            "cka_layers": ["input", *LAYERS, "logits"], "cka": np.asarray(part["cka"]).tolist(),
            "terminal_phase_epoch": zero[0] if zero else None, "seconds": part["seconds"]}


# --------------------------------------------------------------------------------------------------------------
# Figure and report (from the record only)
# --------------------------------------------------------------------------------------------------------------
def _curve(record, split, layer, metric):
    return np.asarray(record["metrics"][f"{split}/{layer}/{metric}"])  # (S, E)


def draw(record: dict, out: str | Path) -> list[Path]:
    """``neural_collapse.png``: NC1 (both variants), NC2, NC3/NC4 against epoch per layer, train solid and test
    dashed; the errors; the CKA matrix at the end."""

    epochs = np.asarray(record["epochs"])
    panels = (("nc1_trace_ratio", "NC1 Tr(Σ_W)/Tr(Σ_T)", True), ("nc1_papyan", "NC1 Tr(Σ_W Σ_B⁺)/K", True),
              ("nc2_equinorm", "NC2 equinorm (CV of norms)", True),
              ("nc2_equiangularity", "NC2 equiangularity (std of cosines)", True))
    fig, axes = new_figure(2, 4, figsize=(18, 8))
    for ax, (metric, title, log) in zip(axes[0], panels, strict=True):
        for i, layer in enumerate(record["layers"]):
            for split, style in (("train", "-"), ("test", "--")):
                v = _curve(record, split, layer, metric)
                ax.plot(epochs, v.mean(0), style, color=f"C{i}", label=f"{layer} {split}")
        ax.set_xscale("log")
        ax.set_yscale("log" if log else "linear")
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        if record.get("terminal_phase_epoch"):
            ax.axvline(record["terminal_phase_epoch"], color="gray", ls=":", lw=1)
    axes[0, 0].legend(fontsize=7)
    last = record["layers"][-1]
    for split, style in (("train", "-"), ("test", "--")):
        axes[1, 0].plot(epochs, _curve(record, split, last, "nc3_self_duality").mean(0), style, color="C3",
                        label=f"NC3 {split}")
        axes[1, 1].plot(epochs, _curve(record, split, last, "nc4_mismatch").mean(0) * 100, style, color="C4",
                        label=f"NC4 mismatch {split}")
        axes[1, 2].plot(epochs, np.asarray(record["metrics"][f"{split}_error"]).mean(0), style, color="k",
                        label=f"{split} error")
    for ax, title in zip(axes[1, :3], (f"NC3 self-duality ({last} vs head)", "NC4 NCC vs network (% disagree)",
                                       "error (%)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log" if "NC3" in title else "linear")
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        if record.get("terminal_phase_epoch"):
            ax.axvline(record["terminal_phase_epoch"], color="gray", ls=":", lw=1)
    cka = np.asarray(record["cka"]).mean(0)
    im = axes[1, 3].imshow(cka, vmin=0, vmax=1, cmap="viridis")
    names = record["cka_layers"]
    axes[1, 3].set_xticks(range(len(names)), names, rotation=45, fontsize=8)
    axes[1, 3].set_yticks(range(len(names)), names, fontsize=8)
    for i in range(len(names)):
        for j in range(len(names)):
            axes[1, 3].text(j, i, f"{cka[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="w" if cka[i, j] < 0.6 else "k")
    axes[1, 3].set_title("linear CKA between layers, test set, last epoch", fontsize=9)
    fig.colorbar(im, ax=axes[1, 3])
    cfg = record["config"]
    tp = record.get("terminal_phase_epoch")
    fig.suptitle(f"Neural collapse of the Table-1 CNN on MNIST-1D ({cfg['optimizer']} lr {cfg['learning_rate']}, "
                 f"wd {cfg['weight_decay']}, {cfg['epochs']} epochs, {seeds_text(len(cfg['seeds']))}; train solid, "
                 f"test dashed; dotted: training error 0 from epoch {tp})", fontsize=10)
    fig.tight_layout()
    return [save_figure(fig, Path(out) / f"{NAME}.png", dpi=100)]


def report_rows(record: dict) -> list[dict]:
    """The metrics at the first and the last measured epoch, per layer, train and test."""
    rows = []
    e0, e1 = record["epochs"][0], record["epochs"][-1]

    def both(split, layer, metric, scale=1.0):
        v = _curve(record, split, layer, metric) * scale
        last = v[:, -1]
        spread = f" ± {last.std():.2g}" if last.size > 1 else ""
        return f"{v[:, 0].mean():.3g} → {last.mean():.3g}{spread}"

    for metric in ("nc1_trace_ratio", "nc1_papyan", "nc2_equinorm", "nc2_equiangularity"):
        for split in SPLITS:
            rows.append({"quantity": f"{metric} ({split}), epoch {e0} → {e1}: " + " / ".join(record["layers"]),
                         "paper": "n/a (falls in the terminal phase, most in the last layer)",
                         "ours": "; ".join(both(split, layer, metric) for layer in record["layers"])})
    last = record["layers"][-1]
    for split in SPLITS:
        rows.append({"quantity": f"{last} NC3 self-duality / NC4 mismatch (%) ({split}), epoch {e0} → {e1}",
                     "paper": "n/a", "ours": f"{both(split, last, 'nc3_self_duality')}; "
                                            f"{both(split, last, 'nc4_mismatch', 100.0)}"})
    err = {s: np.asarray(record["metrics"][f"{s}_error"])[:, -1] for s in SPLITS}
    rows.append({"quantity": "train / test error at the last epoch (%); training error 0 from epoch",
                 "paper": "n/a", "ours": f"{mean_std(err['train'], 2)} / {mean_std(err['test'], 1)}; "
                                        f"{record.get('terminal_phase_epoch')}"})
    cka = np.asarray(record["cka"]).mean(0)
    rows.append({"quantity": "linear CKA of conv1 / conv2 / conv3 with the logits (test, last epoch)",
                 "paper": "n/a", "ours": " / ".join(f"{cka[i, -1]:.2f}" for i in (1, 2, 3))})
    rows.append({"quantity": "runtime (min, every seed in one program)", "paper": "n/a",
                 "ours": f"{record['seconds'] / 60:.1f}"})
    return rows
