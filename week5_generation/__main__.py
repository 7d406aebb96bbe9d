"""`python -m week5_generation ...`: see cli.py."""

import sys

from shared.errors import run_module

sys.exit(run_module("week5_generation.cli"))
