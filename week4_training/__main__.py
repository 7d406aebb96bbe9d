"""`python -m week4_training ...`: see cli.py."""

import sys

from shared.errors import run_module

sys.exit(run_module("week4_training.cli"))
