"""The course's train/validation split: the last 10% of a corpus's characters are held out.

Every number a model is judged by is measured on text it never trained on. The rule is one line,
and every week uses this one function (the bigram here, the tokenizer's training text in week 2,
the token batches in week 4, the evaluation in week 5), so "the validation split" means the same
characters everywhere.

Splitting characters (not bytes or tokens) keeps the validation text identical whatever the
tokenizer, which is what makes bits per byte comparable across models (see metrics.py).
"""

from __future__ import annotations

VAL_FRACTION = 0.1


def split_text(text: str) -> tuple[str, str]:
    """(train, validation): the first 90% of the characters, then the last 10%."""
    cut = int(len(text) * (1 - VAL_FRACTION))
    return text[:cut], text[cut:]
