"""t-SNE of image digits vs MNIST-1D in input space (EXPERIMENTS.md §9.1; paper Fig. 10).

The paper embeds the 70,000 raw MNIST images and the 5,000 MNIST-1D examples: MNIST falls into ten clean
clusters, MNIST-1D into one mixed blob, so nearest neighbours in MNIST-1D's input space say little about the
class. MNIST cannot be downloaded here, so the image-digit panel uses scikit-learn's bundled 8x8 digits
(1,797 images, UCI) and says so; a local MNIST file can be given instead (``mnist_path``).

Beyond the picture, we report a number for the claim: leave-one-out k-nearest-neighbour accuracy in input
space (k = 10, Euclidean).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mnist1d_jax.backend import main_on_all_cores
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.report.figures import save_figure
from mnist1d_jax.report.results import atomic_write, provenance, read_json, write_json
from mnist1d_jax.studies.common import study_parser

PAIRED = ["#a6cee3", "#1f78b4", "#b2df8a", "#33a02c", "#fb9a99", "#e31a1c", "#fdbf6f", "#ff7f00", "#cab2d6",
          "#6a3d9a"]


@dataclass(frozen=True)
class TSNEConfig:
    """t-SNE settings. Defaults follow the original's openTSNE run: perplexity 30, PCA initialisation,
    250 iterations of early exaggeration 12, then 500 more (scikit-learn's ``max_iter`` counts both)."""

    perplexity: float = 30.0
    max_iter: int = 750
    seed: int = 0
    knn_k: int = 10
    max_points: int | None = None  # subsample each dataset (for quick checks)
    mnist_path: str | None = None  # a local MNIST .npz (keys x, y or x_train, y_train, x_test, y_test)


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


def run(config: TSNEConfig, out_dir: str | Path) -> dict:
    """Embed both datasets, write ``tsne.json`` and ``tsne_embeddings.npz`` to `out_dir`; return the record."""
    from sklearn.manifold import TSNE

    data = make_dataset()
    sets = {
        "image_digits": load_image_digits(config),
        "mnist1d": ("MNIST-1D (frozen train + test)", np.concatenate([data.x, data.x_test]),
                    np.concatenate([data.y, data.y_test])),
    }
    record = {"study": "tsne", "config": asdict(config), "datasets": {}}
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
    out_dir = Path(out_dir)
    atomic_write(out_dir / "tsne_embeddings.npz", lambda f: np.savez(f, **arrays))
    record["provenance"] = provenance()
    write_json(out_dir / "tsne.json", record)
    return record


def draw(out_dir: str | Path) -> Path:
    """Draw ``tsne.png`` from ``tsne.json`` and ``tsne_embeddings.npz`` only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    record = read_json(out_dir / "tsne.json")
    with np.load(out_dir / "tsne_embeddings.npz") as f:
        arrays = {k: f[k] for k in f.files}
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.4))
    for ax, key in zip(axes, ("image_digits", "mnist1d"), strict=True):
        info = record["datasets"][key]
        emb, labels = arrays[f"{key}_embedding"], arrays[f"{key}_labels"]
        ax.scatter(emb[:, 0], emb[:, 1], c=[PAIRED[c] for c in labels], s=3, linewidths=0)
        for c in range(10):
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
    return save_figure(fig, out_dir / "tsne.png")


def summarize(record: dict) -> list[dict]:
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


def main(argv=None) -> int:
    parser = study_parser("t-SNE of image digits vs MNIST-1D in input space (Fig. 10)",
                          quick_help="300 points per dataset, 300 iterations: a smoke test")
    parser.add_argument("--mnist-path", default=None, help="a local MNIST .npz for the image panel")
    parser.add_argument("--seed", type=int, default=TSNEConfig.seed)
    args = parser.parse_args(argv)
    if not args.redraw:
        config = TSNEConfig(seed=args.seed, mnist_path=args.mnist_path)
        if args.quick:
            config = TSNEConfig(seed=args.seed, mnist_path=args.mnist_path, max_points=300, max_iter=300)
        record = run(config, args.out)
        for info in record["datasets"].values():
            print(f"{info['name']}: n={info['n']:,}, KL={info['kl_divergence']:.2f}, "
                  f"10-NN accuracy {info['knn_accuracy']:.1f} %, {info['seconds']:.1f} s")
    print(f"wrote {draw(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
