"""Human vs CNN class-wise errors (paper Fig. 8): figures/classwise_errors.png and its JSON

    python scripts/classwise_errors.py [--quick] [--out figures] [--redraw]
"""

import sys

from mnist1d_jax.backend import main_on_all_cores
from mnist1d_jax.studies.classwise_errors import main

if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
