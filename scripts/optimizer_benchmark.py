"""Optimisers x architectures, learning rates chosen on validation: figures/optimizer_benchmark.{json,png}

    python scripts/optimizer_benchmark.py  # 7 models x 4 optimisers x 3 rates x 3 seeds
    python scripts/optimizer_benchmark.py --quick --out /tmp/q  # every stage on a tiny config
    python scripts/optimizer_benchmark.py --models cnn tcn --optimizers adam lion --seeds 5
    python scripts/optimizer_benchmark.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("optimizer_benchmark"))
