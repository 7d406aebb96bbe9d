"""Week 1: check the environment, fetch the corpus, look at it, and set the first baseline.

The baseline is a byte-bigram model (`week1_setup.bigram`): the number in bits per byte that every
later model must beat. Two ideas every later week reuses are taught here: the train/validation
split (`split.py`) and the numbers a model is judged by, perplexity and bits per byte
(`metrics.py`).
"""

import shared  # noqa: F401  (first: see shared/__init__.py, before PyTorch loads)
from week1_setup.bigram import ByteBigram, bigram_baseline

__all__ = ["ByteBigram", "bigram_baseline"]
