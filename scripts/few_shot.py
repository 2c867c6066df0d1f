"""Few-shot learning on new MNIST-1D classes (MAML, first-order MAML, prototypical nets, pre-train + fine-tune):
figures/few_shot.{json,png}

    python scripts/few_shot.py  # every method, 5-way 1-shot and 5-shot, 1,000 test tasks per family
    python scripts/few_shot.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/few_shot.py --methods protonet pretrain --shots 5
    python scripts/few_shot.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("few_shot"))
