"""`python -m week6_optimizations.ablation` (make ablate): see cli.py."""

import sys

from shared.errors import run_module

sys.exit(run_module("week6_optimizations.ablation.cli"))
