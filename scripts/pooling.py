"""Pooling vs training-set size (paper Fig. 7): figures/pooling.{json,png}, pooling_all_sizes.png

    python scripts/pooling.py  # the paper's protocol, resumable (= mnist1d-jax pooling)
    python scripts/pooling.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/pooling.py --sizes 1000 5000 --seeds 1
    python scripts/pooling.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("pooling"))
