"""t-SNE of image digits vs MNIST-1D in input space (paper Fig. 10).

Protocol: embed every example of each dataset in 2-D with t-SNE on the raw inputs (perplexity 30, PCA
initialisation, 250 iterations of early exaggeration 12 and 500 more, as the original's openTSNE run), colour
by class and mark each class's median. The paper embeds the 70,000 raw MNIST images and the 5,000 MNIST-1D
examples (train and test of the frozen file): MNIST falls into ten clean clusters, MNIST-1D into one mixed blob
with a few class-pure islands, so nearest neighbours in MNIST-1D's input space say little about the class
(final KL divergence 2.86 for MNIST, 2.53 for MNIST-1D). MNIST cannot be downloaded here, so the image-digit
panel uses scikit-learn's bundled 8x8 digits (1,797 images, UCI) and says so; a local MNIST file can be given
instead (``mnist_path``).

Beyond the picture we report a number for the claim: leave-one-out k-nearest-neighbour accuracy in input
space (k = 10, Euclidean). Under a class subset (``data.classes``) both datasets keep only those digits.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.runtime.figures import DIGIT_COLORS, new_figure, save_figure
from mnist1d_jax.runtime.validation import Config, integer, option, optional, positive, text

NAME = "tsne"
TITLE = "t-SNE in input space (Fig. 10)"
ORIGINAL_MINUTES = 3.5


@dataclasses.dataclass(frozen=True)
class TSNEConfig(Config):
    """t-SNE settings. Defaults follow the original's openTSNE run: perplexity 30, PCA initialisation,
    250 iterations of early exaggeration 12, then 500 more (scikit-learn's ``max_iter`` counts both)."""

    perplexity: float = option(30.0, positive(1e4), "t-SNE perplexity")
    max_iter: int = option(750, integer(250, 100_000), "t-SNE iterations, early exaggeration included")
    seed: int = option(0, integer(0, 2**32 - 1), "t-SNE and subsampling seed")
    knn_k: int = option(10, integer(1, 1000), "k of the leave-one-out k-NN accuracy")
    max_points: int | None = option(None, optional(integer(20)), "subsample each dataset to this many points")
    mnist_path: str | None = option(None, optional(text), "a local MNIST .npz (x, y or x_train, y_train, ...)")


Config = TSNEConfig
QUICK = TSNEConfig(max_points=300, max_iter=300)
PAPER_SEEDS: dict = {}


def load_image_digits(config: TSNEConfig) -> tuple[str, np.ndarray, np.ndarray]:
    """(name, inputs, labels) of the image-digit comparison: local MNIST if given, else sklearn's 8x8 digits."""
    if config.mnist_path:
        with np.load(config.mnist_path, allow_pickle=False) as f:
            if "x" in f.files:
                x, y = f["x"], f["y"]
            else:
                x = np.concatenate([f["x_train"], f["x_test"]])
                y = np.concatenate([f["y_train"], f["y_test"]])
        return "MNIST (raw pixels)", x.reshape(len(x), -1).astype(np.float64), y
    from sklearn.datasets import load_digits

    digits = load_digits()
    return "8x8 image digits (scikit-learn's UCI set; not MNIST)", digits.data, digits.target


def knn_accuracy(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """Leave-one-out k-NN accuracy (%) in input space: does a point's neighbourhood know its class?"""
    from sklearn.neighbors import NearestNeighbors

    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    votes = y[idx[:, 1:]]  # drop the point itself
    predicted = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    return float(100 * (predicted == y).mean())


def _subsample(x, y, max_points, seed):
    if max_points is None or len(x) <= max_points:
        return x, y
    keep = np.random.default_rng(seed).choice(len(x), max_points, replace=False)
    return x[keep], y[keep]


def run(config: TSNEConfig, ctx=None) -> dict:
    """Embed both datasets; the record holds the numbers and, in ``arrays``, the embeddings and labels."""
    from sklearn.manifold import TSNE

    from mnist1d_jax.data.classes import classes_text, is_subset

    data = make_dataset()
    sets = {
        "image_digits": load_image_digits(config),
        "mnist1d": ("MNIST-1D (frozen train + test)", np.concatenate([data.x, data.x_test]),
                    np.concatenate([data.y, data.y_test])),
    }
    kept = ctx.classes if ctx is not None else None
    if is_subset(kept):  # a class subset: both embeddings show only the kept digits
        sets = {key: (f"{name}, digits {classes_text(kept)}", x[np.isin(y, kept)], y[np.isin(y, kept)])
                for key, (name, x, y) in sets.items()}
    record = {"datasets": {}}
    arrays = {}
    for key, (name, x, y) in sets.items():
        x, y = _subsample(x, y, config.max_points, config.seed)
        start = time.perf_counter()
        tsne = TSNE(perplexity=min(config.perplexity, (len(x) - 1) / 3), init="pca", max_iter=config.max_iter,
                    random_state=config.seed)
        embedding = tsne.fit_transform(x)
        record["datasets"][key] = {
            "name": name,
            "n": len(x),
            "dims": x.shape[1],
            "kl_divergence": float(tsne.kl_divergence_),
            "knn_accuracy": knn_accuracy(x, y, config.knn_k),
            "seconds": time.perf_counter() - start,
        }
        arrays[f"{key}_embedding"], arrays[f"{key}_labels"] = embedding, y
    record["arrays"] = arrays
    return record


def draw(record: dict, out: str | Path) -> list[Path]:
    """``tsne.png``: both embeddings, coloured by class with class medians, from the record alone."""

    arrays = record["arrays"]
    fig, axes = new_figure(1, 2, figsize=(11, 5.4))
    for ax, key in zip(axes, ("image_digits", "mnist1d"), strict=True):
        info = record["datasets"][key]
        emb, labels = arrays[f"{key}_embedding"], arrays[f"{key}_labels"]
        ax.scatter(emb[:, 0], emb[:, 1], c=[DIGIT_COLORS[c] for c in labels], s=3, linewidths=0)
        for c in np.unique(labels):  # the digits present (a class subset keeps only some)
            mx, my = np.median(emb[labels == c], axis=0)
            ax.text(mx, my, str(c), fontsize=14, weight="bold", ha="center", va="center")
        ax.set_title(
            f"{info['name']}: {info['n']:,} x {info['dims']}\n"
            f"10-NN accuracy in input space: {info['knn_accuracy']:.1f} %",
            fontsize=10,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("t-SNE in input space: image digits form clusters, MNIST-1D does not", fontsize=12)
    return [save_figure(fig, Path(out) / "tsne.png")]


def report_rows(record: dict) -> list[dict]:
    """Rows for the paper-vs-ours report."""
    mnist1d, images = record["datasets"]["mnist1d"], record["datasets"]["image_digits"]
    return [
        {"quantity": "t-SNE KL divergence, MNIST-1D", "paper": "2.53 (openTSNE)",
         "ours": f"{mnist1d['kl_divergence']:.2f}"},
        {"quantity": "10-NN accuracy in input space, MNIST-1D (%)", "paper": "not reported (one mixed blob)",
         "ours": f"{mnist1d['knn_accuracy']:.1f}"},
        {"quantity": f"10-NN accuracy in input space, {images['name']} (%)",
         "paper": "MNIST: ten clean clusters", "ours": f"{images['knn_accuracy']:.1f}"},
    ]
