import sys

from shared.errors import run_cli
from week6_optimizations.mlx_port.cli import main

sys.exit(run_cli(main))
