"""Pooling vs training-set size (paper Fig. 7): figures/pooling.png, pooling_all_sizes.png and pooling.json

    python scripts/pooling.py [--quick] [--out figures] [--redraw]
"""

import sys

from mnist1d_jax.backend import main_on_all_cores
from mnist1d_jax.studies.pooling import main

if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
