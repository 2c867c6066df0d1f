"""A learned learning-rate schedule for the Table-1 MLP, metalearned by PES: figures/lr_schedule.{json,png}

    python scripts/lr_schedule.py  # 3 meta seeds x 60 outer steps, then every schedule on 5 fresh seeds
    python scripts/lr_schedule.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/lr_schedule.py --outer-steps 200 --pairs 8
    python scripts/lr_schedule.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("lr_schedule"))
