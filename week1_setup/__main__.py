"""`python -m week1_setup ...`: see cli.py."""

import sys

from shared.errors import run_module

sys.exit(run_module("week1_setup.cli"))
