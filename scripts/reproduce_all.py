"""Reproduce the whole paper: every study, then figures/REPORT.md (same as ``mnist1d-jax reproduce``).

    python scripts/reproduce_all.py                    # resumable: run it again after a crash or Ctrl-C
    python scripts/reproduce_all.py --quick --out /tmp/quick
    python scripts/reproduce_all.py --only tsne ssl
"""

import sys

from mnist1d_jax.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", *sys.argv[1:]]))
