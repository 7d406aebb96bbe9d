"""`python -m week5_generation.finetune` (make finetune, sft-data, sft-eval): see cli.py."""

import sys

from shared.errors import run_module

sys.exit(run_module("week5_generation.finetune.cli"))
