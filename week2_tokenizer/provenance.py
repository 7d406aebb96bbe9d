"""What a BPE tokenizer was trained on, and the file name that follows from it.

A saved tokenizer is reused by every later run that asks for the same one, so the file says what
it learned its merges from: the corpus, by the SHA-256 of its bytes (another file, or an edited
one, has another hash), and the split (the training split, or all of the file). With the special
tokens and the pattern, which the tokenizer holds anyway, that decides every merge. A run that
asks for other training data never takes the file: it gets its own name (`default_tokenizer_path`),
or, where it named the file itself, is refused (`config.py`).

The split matters as much as the corpus: a tokenizer trained on all of a file has seen the
validation text, and a model evaluated with it is scored on text its tokenizer was fitted to.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import regex

from shared import paths
from shared.data import KNOWN_FILES, corpus_path, read_text, sha256_of
from week1_setup.split import split_text
from week2_tokenizer.serialize import TrainedOn
from week2_tokenizer.tokenizer import EOT
from week2_tokenizer.train import require_vocab_size, train_bpe

if TYPE_CHECKING:
    from week2_tokenizer.tokenizer import Tokenizer

DEFAULT_CORPUS = "tinyshakespeare.txt"


def training_data(corpus: str, split: str = "train") -> tuple[str | Path, TrainedOn]:
    """The text to train on and its record: the training split as a string, or for "all" the
    file's path (read in chunks). `corpus` is a known corpus name or a file."""
    path = corpus_path(corpus)
    record = TrainedOn(corpus, sha256_of(path), split)
    if split == "all":
        return path, record
    return split_text(read_text(path))[0], record


def course_default() -> TrainedOn:
    """The configs' training data: the training split of tiny shakespeare."""
    return TrainedOn(DEFAULT_CORPUS, KNOWN_FILES[DEFAULT_CORPUS].sha256, "train")


def default_tokenizer_path(
    vocab_size: int,
    pattern: str = "gpt2",
    trained_on: TrainedOn | None = None,
    specials: list[str] | tuple[str, ...] = (EOT,),
) -> Path:
    """runs/tokenizers/bpe_<vocab>.json (bpe_<vocab>_gpt4.json with GPT-4's pattern) for the
    course's default, tiny shakespeare's training split (`trained_on=None`) with <|endoftext|>.
    Any other training data or special tokens get a name of their own,
    bpe_<vocab>_<corpus>-<split>-<hash>.json, so that no run ever takes another's file."""
    trained_on = trained_on or course_default()
    specials = list(dict.fromkeys(specials))
    name = f"bpe_{vocab_size}" + ("" if pattern == "gpt2" else f"_{pattern}")
    if not (trained_on.same_data(course_default()) and specials == [EOT]):
        key = json.dumps([trained_on.sha256, trained_on.split, specials]).encode("utf-8")
        stem = regex.sub(r"[^A-Za-z0-9]+", "-", Path(trained_on.corpus).stem).strip("-")[:32]
        tag = hashlib.sha256(key).hexdigest()[:8]
        name += f"_{stem or 'corpus'}-{trained_on.split}-{tag}"
    return paths.RUNS_DIR / "tokenizers" / f"{name}.json"


def train_recorded(
    source: str | Path,
    trained_on: TrainedOn,
    vocab_size: int,
    specials: list[str],
    pattern: str,
    knob: str,
) -> Tokenizer:
    """`train_bpe` on `source`, refused if it stops short of `vocab_size` (named by `knob`), and
    holding the record of what it was trained on, so that saving it saves that too."""
    tokenizer = train_bpe(source, vocab_size, specials, pattern)
    require_vocab_size(tokenizer, vocab_size, knob, trained_on.describe())
    tokenizer.trained_on = trained_on
    return tokenizer
