"""The two numbers the course reports for a language model.

Cross-entropy loss is measured in nats per token. Two views of it:

* perplexity = exp(mean loss per token): "as unsure as a uniform choice among this many tokens".
  It depends on the tokenizer: bigger tokens make each prediction harder and fewer.
* bits per byte = (total loss in nats / ln 2) / (UTF-8 bytes of the text): the cost of encoding
  the text, independent of how it was cut into tokens. This is the headline metric, because it
  compares a byte-level model, a BPE model and this week's bigram on equal terms.
"""

from __future__ import annotations

import math


def perplexity(mean_loss_nats: float) -> float:
    """exp of the mean per-token cross-entropy (in nats)."""
    return math.exp(mean_loss_nats)


def bits_per_byte(total_loss_nats: float, n_bytes: int) -> float:
    """Total cross-entropy of a text, in bits (from nats), divided by its UTF-8 byte count."""
    if n_bytes <= 0:
        raise ValueError(f"n_bytes must be positive, got {n_bytes}")
    # BEGIN TASK 1.1 [Bits per byte]: return the total loss in bits (it is given in nats) per byte
    return total_loss_nats / math.log(2) / n_bytes
    # END TASK 1.1
