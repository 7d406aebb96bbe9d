"""`python -m week6_optimizations.bench` (make bench)."""

import sys

from week6_optimizations.bench import cli

if __name__ == "__main__":
    sys.exit(cli())
