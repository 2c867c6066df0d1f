"""The dataset figure (paper Fig. 1) and the generator's exactness checks: figures/dataset.{json,png}

    python scripts/dataset.py  # the paper's protocol, resumable (= mnist1d-jax dataset)
    python scripts/dataset.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/dataset.py --per-class 3
    python scripts/dataset.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("dataset"))
