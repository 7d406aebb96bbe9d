import sys

from shared.errors import run_cli
from week6_optimizations.distributed.cli import main

sys.exit(run_cli(main))
