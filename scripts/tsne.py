"""t-SNE of image digits vs MNIST-1D in input space (paper Fig. 10): figures/tsne.png and its numbers.

    python scripts/tsne.py                  # the full run (about two minutes on 2 cores)
    python scripts/tsne.py --quick          # 300 points per dataset, 300 iterations (a smoke test)
    python scripts/tsne.py --mnist-path mnist.npz   # use a local MNIST file for the image panel
    python scripts/tsne.py --redraw         # redraw the figure from the saved numbers
"""

import sys

from mnist1d_jax.backend import main_on_all_cores
from mnist1d_jax.studies.tsne import main

if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
