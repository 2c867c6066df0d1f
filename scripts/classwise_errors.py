"""Human vs CNN class-wise errors (paper Fig. 8): figures/classwise_errors.{json,png}

    python scripts/classwise_errors.py  # the paper's protocol, resumable (= mnist1d-jax classwise-errors)
    python scripts/classwise_errors.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/classwise_errors.py --seeds 3
    python scripts/classwise_errors.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("classwise_errors"))
