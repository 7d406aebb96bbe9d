"""`python -m week6_optimizations.mlx_port ...`: see cli.py."""

import sys

from shared.errors import run_module

sys.exit(run_module("week6_optimizations.mlx_port.cli"))
