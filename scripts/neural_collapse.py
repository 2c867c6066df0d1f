"""Neural collapse per layer of the Table-1 CNN trained into its terminal phase: figures/neural_collapse.{json,png}

    python scripts/neural_collapse.py  # 3 seeds x 2,000 epochs of SGD (cosine), NC1-NC4 at 24 log-spaced epochs
    python scripts/neural_collapse.py --quick --out /tmp/q  # every stage on a tiny config
    python scripts/neural_collapse.py --epochs 1000 --learning-rate 0.02
    python scripts/neural_collapse.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("neural_collapse"))
