"""Epoch-wise double descent and a label-noise sweep: figures/epochwise_double_descent.{json,png}

    python scripts/epochwise_double_descent.py  # 7 widths x 3 seeds at 15 % noise; width 300 x 5 noise rates
    python scripts/epochwise_double_descent.py --quick --out /tmp/q  # every stage on a tiny config
    python scripts/epochwise_double_descent.py --noise-rates 0 0.2 0.4 --epochs 1000
    python scripts/epochwise_double_descent.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("epochwise_double_descent"))
