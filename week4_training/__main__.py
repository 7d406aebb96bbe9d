import sys

from shared.errors import run_cli
from week4_training.cli import main

sys.exit(run_cli(main))
