"""`--quick`: the whole ablation in seconds, for tests and a first look at what it writes.

The base config keeps its sections but trains a model of about 21 thousand parameters (one
layer of width 32, baseline: 21,120) on the first QUICK_CHARS characters of its corpus, with 257
byte tokens (no tokenizer to train), for a budget of QUICK_BUDGET_SECONDS per run. Four heads,
so that the gqa variant (2 key/value heads) groups them and mqa (1) shares one. The numbers it
prints are a check that everything runs, not a result.
"""

from __future__ import annotations

from pathlib import Path

from shared.atomic import atomic_write_text
from shared.data import corpus_path, read_text

QUICK_CHARS = 20_000
QUICK_BUDGET_SECONDS = 1.0
QUICK_OVERRIDES = (
    "tokenizer.kind=bytes",
    "model.block_size=16",
    "model.n_layer=1",
    "model.n_head=4",
    "model.n_embd=32",
    "model.dropout=0.0",
    "train.batch_size=4",
    "train.dtype=float32",
    "train.log_interval=5",
    "train.sample_tokens=16",
)


def quick_overrides(corpus: str, folder: Path) -> tuple[str, ...]:
    """QUICK_OVERRIDES and `data.corpus` set to the first QUICK_CHARS characters of `corpus`,
    written to `folder/quick_corpus.txt`."""
    text = read_text(corpus_path(corpus))[:QUICK_CHARS]
    target = folder / "quick_corpus.txt"
    folder.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or read_text(target) != text:
        atomic_write_text(target, text)
    return (f"data.corpus={target}", *QUICK_OVERRIDES)
