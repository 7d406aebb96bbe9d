"""`python -m week2_tokenizer ...`: see cli.py."""

import sys

from shared.errors import run_module

sys.exit(run_module("week2_tokenizer.cli"))
