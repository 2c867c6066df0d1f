"""Metalearn the SGD learning rate (paper Fig. 5): figures/metalearn_lr.{json,png}

    python scripts/metalearn_lr.py  # the paper's protocol, resumable (= mnist1d-jax metalearn-lr)
    python scripts/metalearn_lr.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/metalearn_lr.py --outer-steps 100
    python scripts/metalearn_lr.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("metalearn_lr"))
