"""Deep double descent (paper Fig. 4) and NLL vs MSE: figures/double_descent.png and double_descent.json.

    python scripts/double_descent.py                      # 4 panels x all widths x 3 seeds, 500 epochs
    python scripts/double_descent.py --quick              # 1 seed, 4 widths per panel, 30 epochs
    python scripts/double_descent.py --seeds 0 --panels mlp_noisy cnn_noisy
    python scripts/double_descent.py --redraw             # redraw the figure from the saved numbers

Finished (panel, width bucket) pieces are kept in figures/double_descent_parts/, so a rerun resumes.
"""

import sys

from mnist1d_jax.backend import main_on_all_cores
from mnist1d_jax.studies.double_descent import main

if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
