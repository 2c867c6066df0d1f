"""t-SNE of image digits vs MNIST-1D in input space (paper Fig. 10): figures/tsne.png and its numbers.

    python scripts/tsne.py                  # the full run (about two minutes on 2 cores)
    python scripts/tsne.py --quick          # 300 points per dataset, 250 iterations (a smoke test)
    python scripts/tsne.py --mnist-path mnist.npz   # use a local MNIST file for the image panel
    python scripts/tsne.py --redraw         # redraw the figure from the saved numbers
"""

import argparse
import sys
from pathlib import Path

from mnist1d_jax.studies import tsne


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("figures"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--redraw", action="store_true", help="only redraw from tsne.json / tsne_embeddings.npz")
    parser.add_argument("--mnist-path", default=None)
    parser.add_argument("--seed", type=int, default=tsne.TSNEConfig.seed)
    args = parser.parse_args(argv)
    if not args.redraw:
        config = tsne.TSNEConfig(seed=args.seed, mnist_path=args.mnist_path)
        if args.quick:
            config = tsne.TSNEConfig(seed=args.seed, mnist_path=args.mnist_path, max_points=300, max_iter=250)
        record = tsne.run(config, args.out)
        for info in record["datasets"].values():
            print(f"{info['name']}: n={info['n']:,}, KL={info['kl_divergence']:.2f}, "
                  f"10-NN accuracy {info['knn_accuracy']:.1f} %, {info['seconds']:.1f} s")
    print(f"wrote {tsne.draw(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
