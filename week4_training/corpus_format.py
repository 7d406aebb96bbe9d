"""Where a run's tokens come from: one text file, or a corpus prepared ahead of training.

`data.corpus` names either a text file (a known name such as tinyshakespeare.txt, or a path):
week 4 splits it by its last 10% of characters and encodes it once (data.py); or a corpus that
`make prepare NAME=...` wrote under `<cache>/corpora/<name>/` as token shards, with a
`manifest.json` whose `format` says who reads them. The readers of prepared formats are a table,
`tiny_gpt.corpus_format` in pyproject.toml, so week 4 never names the week that adds one.

A prepared corpus carries its tokenizer (the one its shards were encoded with), so a run on it
takes that tokenizer instead of training one; the format checks it against the config's
`tokenizer` section.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shared.data import PREPARED_MANIFEST, is_prepared, prepared_dir
from shared.errors import CourseError
from shared.registry import Registry

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer
    from week2_tokenizer.config import TokenizerConfig
    from week4_training.data import TokenData


class CorpusFormat(Protocol):
    """How a prepared corpus's folder turns into a tokenizer and a run's two splits."""

    def tokenizer(self, folder: Path, cfg: TokenizerConfig) -> Tokenizer:
        """The tokenizer the corpus was encoded with; refused if `cfg` asks for another."""
        ...

    def token_data(
        self, folder: Path, tokenizer: Tokenizer, log: Callable[[str], None] | None
    ) -> TokenData:
        """The train and validation splits, read without loading the corpus into memory."""
        ...


CORPUS_FORMAT: Registry[CorpusFormat] = Registry("corpus format", "tiny_gpt.corpus_format")


def prepared_format(corpus: str) -> tuple[Path, CorpusFormat] | None:
    """The folder and reader of the prepared corpus `corpus`, or None when it names a text file."""
    if not is_prepared(corpus):
        return None
    folder = prepared_dir(corpus)
    manifest = folder / PREPARED_MANIFEST
    try:
        kind = json.loads(manifest.read_text(encoding="utf-8"))["format"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CourseError(
            f"{manifest}: not a readable corpus manifest; prepare the corpus again "
            f"(make prepare DATA=<files> NAME={corpus} OVERWRITE=1)"
        ) from None
    return folder, CORPUS_FORMAT.get(str(kind))


def run_tokenizer(cfg: TokenizerConfig, corpus: str) -> Tokenizer:
    """The tokenizer of a run on `corpus`: a prepared corpus's own, or week 2's (loaded, or
    trained on the training split of the text file)."""
    prepared = prepared_format(corpus)
    if prepared is not None:
        folder, reader = prepared
        return reader.tokenizer(folder, cfg)
    from week2_tokenizer import load_or_train_tokenizer

    return load_or_train_tokenizer(cfg, corpus)
