import sys

from shared.errors import run_cli
from week1_setup.cli import main

sys.exit(run_cli(main))
