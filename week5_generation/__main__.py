import sys

from shared.errors import run_cli
from week5_generation.cli import main

sys.exit(run_cli(main))
