"""Week 2: a byte-level BPE tokenizer (train, encode, decode, save/load, GPT-2 compatibility).

tokenizer = train_bpe(text, vocab_size=1024)
ids = tokenizer.encode("To be, or not to be")
assert tokenizer.decode(ids) == "To be, or not to be"
"""

import shared  # noqa: F401  (first: see shared/__init__.py, before PyTorch loads)
from week2_tokenizer.config import TokenizerConfig, load_or_train_tokenizer
from week2_tokenizer.serialize import to_json_text
from week2_tokenizer.tokenizer import Tokenizer, from_json_dict
from week2_tokenizer.train import train_bpe

__all__ = [
    "Tokenizer",
    "TokenizerConfig",
    "from_json_dict",
    "load_or_train_tokenizer",
    "to_json_text",
    "train_bpe",
]
