"""Deep double descent (paper Fig. 4) and NLL vs MSE: figures/double_descent.{json,png}

    python scripts/double_descent.py  # the paper's protocol, resumable (= mnist1d-jax double-descent)
    python scripts/double_descent.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/double_descent.py --seeds 0 --panels mlp_noisy cnn_noisy
    python scripts/double_descent.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("double_descent"))
