"""`python -m week2_tokenizer ...`: see cli.py."""

import sys

from shared.errors import run_cli
from week2_tokenizer import cli

sys.exit(run_cli(cli.main))
