"""The dataset figure (paper Fig. 1) and the exactness checks: figures/dataset.png and dataset.json

    python scripts/dataset.py [--out figures]
"""

import sys

from mnist1d_jax.backend import main_on_all_cores
from mnist1d_jax.studies.dataset import main

if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
