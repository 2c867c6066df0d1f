"""Table 1 and the benchmark figure, plus the improved baselines: figures/benchmarks.{json,png,md}

    python scripts/benchmarks.py  # the paper's protocol, resumable (= mnist1d-jax benchmarks)
    python scripts/benchmarks.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/benchmarks.py --seeds 20 --no-modern --models cnn gru
    python scripts/benchmarks.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("benchmarks"))
