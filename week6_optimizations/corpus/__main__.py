"""`python -m week6_optimizations.corpus` (make prepare): see cli.py."""

import sys

from shared.errors import run_module

sys.exit(run_module("week6_optimizations.corpus.cli"))
