"""Self-supervised learning on MNIST-1D, SimCLR-style (the ICML paper's SSL figure).

Protocol: an encoder (the Table-1 CNN's three convolutions, output h of 125 features) and a projection head
(Dense 125-125, ReLU, Dense 125-16 to the embedding z; variants: none, or three hidden layers) are trained
without labels on the 4,000 training inputs. Each example gives two views, each made by removing its mean and
its least-squares linear trend, circularly shifting it by 0-9 positions and adding a random slope (std 0.04)
and offset (std 0.3). The loss is one-directional InfoNCE with cross-view negatives only (temperature 0.5,
L2-normalised embeddings). Adam 0.01, batch 100, 200 epochs of fresh permutations. Then a linear probe on
every layer (features standardised on the training set; L2-penalised multinomial logistic regression, C = 1,
fitted to convergence on the 4,000 training representations; accuracy on the 1,000 test ones).

The paper (one seed): probe 32.8 % on raw inputs, 82.1 % on the encoder output h, 75.0 % on z: accuracy peaks
in the middle of the network, before the projection head ("guillotine regularisation"), in every variant.
The exact number depends strongly on the seed, so we report a mean over seeds, vmapped: one compiled
training program per variant. The figure adds a t-SNE (cosine) of z for the training examples.
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax.core.loop import train_loop
from mnist1d_jax.core.schedules import EpochShuffle
from mnist1d_jax.core.step import create_train_state
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.nn.models import ContrastiveCNN
from mnist1d_jax.runtime.figures import DIGIT_COLORS, new_figure, save_figure
from mnist1d_jax.runtime.results import mean_std, seeds_text
from mnist1d_jax.runtime.validation import Config, boolean, choice, integer, option, positive, real, tuple_of

NAME = "ssl"
TITLE = "Self-supervised learning (ICML figure)"
ORIGINAL_MINUTES = 5.0

PROJECTORS = {"none": 0, "default": 1, "deep": 3}  # hidden 125-unit ReLU layers before the 16-d output
POSITIONS = np.arange(40, dtype=np.float32) - 19.5  # trend-removal t_j (NumPy: no JAX at import)


@dataclasses.dataclass(frozen=True)
class SSLConfig(Config):
    seeds: int = option(5, integer(1, 10_000), "seeds per variant, one vmapped call")
    epochs: int = option(200, integer(1, 100_000), "epochs of contrastive training")
    batch_size: int = option(100, integer(2, 4000), "examples per batch")
    learning_rate: float = option(1e-2, positive(1e3), "Adam's learning rate")
    temperature: float = option(0.5, positive(1e3), "InfoNCE temperature")
    max_shift: int = option(10, integer(1, 40), "views are shifted by 0 .. max_shift - 1 positions")
    slope_std: float = option(0.04, real(0.0, 100.0), "std of a view's random slope")
    offset_std: float = option(0.3, real(0.0, 100.0), "std of a view's random offset")
    projectors: tuple[str, ...] = option(("default", "none", "deep"), tuple_of(choice("default", "none", "deep"),
                                         unique=True), "projection heads (default: 1 hidden layer, deep: 3)")
    probe_iterations: int = option(500, integer(1, 100_000), "L-BFGS iterations of each linear probe")
    tsne: bool = option(True, boolean, "t-SNE of the default variant's embedding (figure panel a)")


Config = SSLConfig
QUICK = SSLConfig(seeds=1, epochs=1, projectors=("default",), tsne=False, probe_iterations=10)
PAPER_SEEDS = {"seeds": 1}


def augment(key, x, config: SSLConfig):
    """One random view of each row of ``x (B, 40)``: detrend, circular shift, random slope and offset."""
    k_shift, k_slope, k_offset = jax.random.split(key, 3)
    x = x - x.mean(-1, keepdims=True)
    x = x - (x @ POSITIONS / (POSITIONS @ POSITIONS))[:, None] * POSITIONS
    shift = jax.random.randint(k_shift, (x.shape[0], 1), 0, config.max_shift)
    x = jnp.take_along_axis(x, (jnp.arange(40) - shift) % 40, axis=1)
    slope = config.slope_std * jax.random.normal(k_slope, (x.shape[0], 1))
    offset = config.offset_std * jax.random.normal(k_offset, (x.shape[0], 1))
    return x + slope * POSITIONS + offset


def info_nce(z1, z2, temperature):
    """Cross-entropy of each view-1 row against the matching view-2 column of ``z1 z2^T / tau``."""
    z1 = z1 / jnp.maximum(jnp.linalg.norm(z1, axis=-1, keepdims=True), 1e-12)
    z2 = z2 / jnp.maximum(jnp.linalg.norm(z2, axis=-1, keepdims=True), 1e-12)
    s = z1 @ z2.T / temperature
    return jnp.mean(jax.nn.logsumexp(s, axis=-1) - jnp.diagonal(s))


@dataclasses.dataclass(frozen=True)
class Contrastive:
    """The training objective (``TrainState.objective``): two random views of every example of the batch, the
    InfoNCE loss between their last-layer embeddings."""

    config: SSLConfig

    def __call__(self, state, params, batch, key):
        k1, k2 = jax.random.split(key)
        z1 = state.model.apply({"params": params}, augment(k1, batch[0], self.config))[-1]
        z2 = state.model.apply({"params": params}, augment(k2, batch[0], self.config))[-1]
        return info_nce(z1, z2, self.config.temperature), {}


def make_train(x_train, config: SSLConfig, hidden: int):
    """``train(key) -> (params, losses (epochs,))``: the core loop over ``epochs`` shuffled epochs, each epoch's
    permutation and augmentation keys drawn from its own key."""
    model = ContrastiveCNN(hidden)
    tx = optax.adam(config.learning_rate)
    n = x_train.shape[0]
    per_epoch = n // config.batch_size
    labels = jnp.zeros((n,), jnp.int32)  # unused: the objective sees no labels

    def train(key):
        k_init, k_run = jax.random.split(key)
        state = create_train_state(k_init, model, tx, objective=Contrastive(config))
        schedule = EpochShuffle(x_train, labels, config.batch_size, jax.random.split(k_run, config.epochs),
                                step_keys=True)
        state, metrics, _ = train_loop(state, schedule, config.epochs * per_epoch)
        return state.params, metrics["batch_loss"].reshape(config.epochs, per_epoch).mean(1)

    return model, train


def linear_probe(train_features, y_train, test_features, y_test, c: float = 1.0, iterations: int = 500):
    """Linear probe: standardise (fit on train), L2-regularised multinomial logistic regression, test accuracy.

    The objective is scikit-learn's ``LogisticRegression(C=c)`` (``C * sum CE + |W|^2 / 2``, intercept not
    penalised), minimised to convergence with L-BFGS in JAX — a loosely converged probe costs points (on raw
    inputs, stopping at sklearn's tol=1e-2 gives 33.3 instead of the converged 32.8). Pure and jit-able; vmap
    it over seeds. ``(N, D), (N,), (M, D), (M,) -> ()`` accuracy in %.
    """
    mean, std = train_features.mean(0), train_features.std(0)
    std = jnp.where(std > 0, std, 1.0)
    x_train, x_test = (train_features - mean) / std, (test_features - mean) / std
    n, dim = x_train.shape

    def objective(p):
        logits = x_train @ p["w"] + p["b"]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y_train).mean()
        return ce + 0.5 * jnp.sum(p["w"] ** 2) / (c * n)

    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def step(carry, _):
        p, state = carry
        value, grad = value_and_grad(p, state=state)
        updates, state = solver.update(grad, state, p, value=value, grad=grad, value_fn=objective)
        return (optax.apply_updates(p, updates), state), value

    p = {"w": jnp.zeros((dim, 10)), "b": jnp.zeros(10)}
    (p, _), _ = jax.lax.scan(step, (p, solver.init(p)), None, length=iterations)
    return 100 * jnp.mean(jnp.argmax(x_test @ p["w"] + p["b"], -1) == y_test)


def run(config: SSLConfig, ctx) -> dict:
    """Train every projector variant over the seeds and probe every layer; each finished variant is kept in
    ``ctx.store`` (resumable)."""
    raw = make_dataset()
    data = prepare_data(raw, classes=ctx.classes)  # float32 / int32; only the kept digits under a class subset
    x_train, x_test = data.x, data.x_test
    keys = jax.random.split(jax.random.key(42), config.seeds)
    y_train, y_test = data.y, data.y_test
    probe = partial(linear_probe, iterations=config.probe_iterations)
    pixel = float(jax.jit(probe)(x_train, y_train, x_test, y_test))
    probes_over_seeds = jax.jit(jax.vmap(probe, in_axes=(0, None, 0, None)))  # compiled once per feature width
    tag = {k: v for k, v in dataclasses.asdict(config).items() if k not in ("projectors", "tsne")}
    variants, arrays = {}, {}
    bar = ctx.bar(len(config.projectors), "SSL variants", "variant")
    for name in config.projectors:
        done = ctx.store.get(name, tag)
        if done is None:
            model, train = make_train(x_train, config, PROJECTORS[name])
            start = time.perf_counter()
            params, losses = jax.jit(jax.vmap(train))(keys)
            losses.block_until_ready()
            seconds = time.perf_counter() - start
            features = jax.vmap(lambda p, x, model=model: model.apply({"params": p}, x), in_axes=(0, None))
            train_layers, test_layers = features(params, x_train), features(params, x_test)  # lists of (S, N, D)
            probes = [np.full(config.seeds, pixel)]
            probes += [np.asarray(probes_over_seeds(a, y_train, b, y_test))
                       for a, b in zip(train_layers, test_layers, strict=True)]
            done = {"probe_accuracy": np.stack(probes, axis=1),  # (seeds, layers)
                    "final_loss": np.asarray(losses[:, -1]), "loss_curve": np.asarray(losses),
                    "train_seconds": seconds, "probe_seconds": time.perf_counter() - start - seconds,
                    "z_train_seed0": np.asarray(train_layers[-1][0])}
            ctx.store.put(name, tag, done)
        z = done.pop("z_train_seed0")
        if name == "default":
            arrays["z_train_seed0"] = z
        variants[name] = done
        bar.update()
    bar.close()
    if config.tsne and "z_train_seed0" in arrays:
        from sklearn.manifold import TSNE

        arrays["tsne"] = TSNE(metric="cosine", init="pca", random_state=0).fit_transform(arrays["z_train_seed0"])
        arrays["labels"] = np.asarray(data.y, np.asarray(raw.y).dtype)
    arrays.pop("z_train_seed0", None)
    return {"variants": variants, "pixel_probe": pixel, "arrays": arrays}


def draw(r: dict, out: Path) -> list[Path]:
    """``ssl.png``: (a) t-SNE of the default variant's embedding, (b) probe accuracy per layer per variant."""

    fig, axes = new_figure(1, 2, figsize=(11, 4.6))
    arrays = r.get("arrays") or {}
    if "tsne" in arrays:
        emb, labels = arrays["tsne"], arrays["labels"]
        axes[0].scatter(emb[:, 0], emb[:, 1], c=[DIGIT_COLORS[c] for c in labels], s=3, linewidths=0)
        for c in range(10):
            mx, my = np.median(emb[labels == c], axis=0)
            axes[0].text(mx, my, str(c), fontsize=13, weight="bold", ha="center", va="center")
    axes[0].set_title("(a) t-SNE (cosine) of z, 4,000 training examples, seed 0", fontsize=10)
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    for name, color in (("default", "tab:blue"), ("none", "tab:orange"), ("deep", "tab:green")):
        if name not in r["variants"]:
            continue
        acc = np.asarray(r["variants"][name]["probe_accuracy"])
        layers = np.arange(acc.shape[1])
        axes[1].errorbar(layers, acc.mean(0), yerr=acc.std(0), color=color, marker="o", capsize=3,
                         label=f"{name} projector")
    axes[1].axvline(3, color="gray", ls=":", lw=1)
    axes[1].text(3.05, 32, "encoder output h", fontsize=8, color="gray")
    axes[1].set_ylim(30, 90)
    axes[1].set_xlabel("layer (0 = input, 3 = encoder output, last = z)")
    axes[1].set_ylabel("linear probe test accuracy (%)")
    axes[1].set_title(f"(b) probe accuracy per layer, mean ± std over {r['config']['seeds']} seeds", fontsize=10)
    axes[1].legend(fontsize=8)
    return [save_figure(fig, Path(out) / "ssl.png")]


def report_rows(r: dict) -> list[dict]:
    default = np.asarray(r["variants"]["default"]["probe_accuracy"])
    h = {"quantity": "linear probe on the encoder output h (%)", "paper": "82.1 (one seed; 69-86 over seeds)",
         "ours": f"{mean_std(default[:, 3])} ({seeds_text(len(default))})"}
    if len(default) < 5 and default[:, 3].mean() < 82:
        h["why"] = (f"{len(default)} seed(s): the probe on h depends strongly on the seed (69–86 % over 4 seeds in "
                    "an independent JAX cross-check); the target is a mean over ≥ 5 seeds (the default)")
    rows = [
        {"quantity": "linear probe on raw inputs (%)", "paper": "32.8", "ours": f"{r['pixel_probe']:.1f}"},
        h,
        {"quantity": "linear probe on z, default projector (%)", "paper": "75.0",
         "ours": mean_std(default[:, -1])},
    ]
    for name, acc in r["variants"].items():
        acc = np.asarray(acc["probe_accuracy"]).mean(0)
        rows.append({"quantity": f"best layer, {name} projector", "paper": "the middle of the network",
                     "ours": f"layer {int(acc.argmax())} of 0..{len(acc) - 1} ({acc.max():.1f} %)"})
    return rows
