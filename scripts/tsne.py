"""t-SNE of image digits vs MNIST-1D in input space (paper Fig. 10): figures/tsne.{json,npz,png}

    python scripts/tsne.py  # the paper's protocol, resumable (= mnist1d-jax tsne)
    python scripts/tsne.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/tsne.py --mnist-path mnist.npz
    python scripts/tsne.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("tsne"))
