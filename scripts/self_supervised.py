"""SimCLR-style self-supervised learning (the ICML SSL figure): figures/ssl.{json,npz,png}

    python scripts/self_supervised.py  # the paper's protocol, resumable (= mnist1d-jax ssl)
    python scripts/self_supervised.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/self_supervised.py --seeds 3 --projectors default
    python scripts/self_supervised.py --redraw  # figures again from the record (--help: every option)

(Not scripts/ssl.py: a script folder on sys.path would shadow the standard library's ssl module.)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("ssl"))
