"""From a corpus to training batches: encode once, cache as memmaps, sample seeded windows.

    corpus text --split_text (week 1)--> train text, validation text  (last 10% of the characters)
        --tokenizer.encode--> [eot] + ids, per split
        --> <cache>/tokens/<corpus sha>-<tokenizer sha>/{train.bin, val.bin, meta.json}

Each split's stream starts with the end-of-text token, the separator GPT-2 puts between
documents: it is the context from which the split's first real token is predicted, so in
evaluation *every* token of the validation text is a target exactly once and bits per byte
divides by *all* of its UTF-8 bytes. (A tokenizer without <|endoftext|> gets no prefix; then the
first token is context only, and its bytes are left out of `n_bytes`.)

The `.bin` files are raw uint16 arrays when every id fits (vocab_size <= 65536), else uint32,
read back with `np.memmap` so a corpus far larger than memory still works. `meta.json`, written
last, records both hashes; a cache whose hashes do not match is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from shared.atomic import atomic_path, atomic_write_text
from shared.data import cache_dir, corpus_path, read_text
from shared.errors import CourseError
from week1_setup.split import split_text

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer

CACHE_VERSION = 1


@dataclass
class TokenSplit:
    """One split as tokens: `tokens[0]` is context (the eot), every later token is a target.

    n_bytes: UTF-8 bytes of the text whose tokens are targets: the denominator of bits per byte.
    """

    tokens: np.ndarray
    n_bytes: int

    @property
    def n_targets(self) -> int:
        return max(len(self.tokens) - 1, 0)


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 holds ids below 65536 in half the space of uint32."""
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def encode_split(tokenizer: Tokenizer, text: str) -> TokenSplit:
    """[eot] + encode(text): every token of `text` becomes a target; n_bytes covers all of it.

    Special-token strings inside the corpus are encoded as plain text (allowed_special="none").
    """
    ids = tokenizer.encode(text, allowed_special="none")
    eot = tokenizer.eot_id
    n_bytes = len(text.encode("utf-8"))
    if eot is None:  # no separator token: the first token is context only
        n_bytes -= len(tokenizer.decode_bytes(ids[:1]))
        stream = ids
    else:
        stream = [eot, *ids]
    return TokenSplit(np.asarray(stream, dtype=token_dtype(tokenizer.vocab_size)), n_bytes)


@dataclass
class TokenData:
    """The cached train and validation splits of one corpus under one tokenizer."""

    train: TokenSplit
    val: TokenSplit
    folder: Path
    rebuilt: bool


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_bin(path: Path, tokens: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        tokens.tofile(tmp)


def _read_bin(path: Path, dtype: np.dtype) -> np.ndarray:
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def load_token_data(
    corpus: str,
    tokenizer: Tokenizer,
    root: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> TokenData:
    """Encode `corpus` (a known name or a path) with `tokenizer`, or reuse the cached encoding.

    Encoding a large corpus takes a while; `log` (e.g. `print`) is told when it starts. Ctrl-C
    in the middle leaves no cache behind: each file is written atomically, meta.json last.
    A corpus prepared ahead (`make prepare`) is read by its own format (corpus_format.py).
    """
    from week4_training.corpus_format import prepared_format

    prepared = prepared_format(corpus)
    if prepared is not None:
        folder, reader = prepared
        return reader.token_data(folder, tokenizer, log)
    text = read_text(corpus_path(corpus))
    corpus_sha = _sha256_text(text)
    root = Path(root) if root is not None else cache_dir() / "tokens"
    folder = root / f"{corpus_sha[:12]}-{tokenizer.sha256[:12]}"
    meta_path = folder / "meta.json"
    expected = {
        "version": CACHE_VERSION,
        "corpus_sha256": corpus_sha,
        "tokenizer_sha256": tokenizer.sha256,
        "dtype": token_dtype(tokenizer.vocab_size).name,
    }
    meta = _read_meta(meta_path)
    if meta is not None and all(meta.get(k) == v for k, v in expected.items()):
        dtype = np.dtype(meta["dtype"])
        return TokenData(
            train=TokenSplit(_read_bin(folder / "train.bin", dtype), meta["train_bytes"]),
            val=TokenSplit(_read_bin(folder / "val.bin", dtype), meta["val_bytes"]),
            folder=folder,
            rebuilt=False,
        )
    if log is not None:
        log(f"encoding {corpus} with the tokenizer, once (cached in {folder})")
    train_text, val_text = split_text(text)
    train, val = encode_split(tokenizer, train_text), encode_split(tokenizer, val_text)
    _write_bin(folder / "train.bin", train.tokens)
    _write_bin(folder / "val.bin", val.tokens)
    meta = {
        **expected,
        "corpus": corpus,
        "train_tokens": len(train.tokens),
        "val_tokens": len(val.tokens),
        "train_bytes": train.n_bytes,
        "val_bytes": val.n_bytes,
    }
    atomic_write_text(meta_path, json.dumps(meta, indent=1) + "\n")  # last: marks the cache whole
    return TokenData(train=train, val=val, folder=folder, rebuilt=True)


def _read_meta(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def stream_seed(seed: int, rank: int = 0) -> int:
    """The generator seed of process `rank`: the run seed for rank 0, a hash of both for others.

    Rank 0 keeps the stream of a single-process run. seed + rank would hand run seed 1's rank 1
    the batches of run seed 2's rank 0; hashing (seed, rank) gives every rank an unrelated
    stream. The result fits 32 bits because PyTorch's CPU generator keeps only the low 32 bits
    of its seed (seeds that differ above bit 31 draw the same numbers).
    """
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


class BatchSampler:
    """Random training windows from one token stream, drawn from its own seeded generator.

    A batch is B windows of T + 1 consecutive tokens at uniformly random offsets: x is the first
    T, y the last T (each x token's next token). The generator's state is part of a checkpoint,
    so a resumed run draws exactly the batches the uninterrupted run would have drawn. In a run
    of several processes each `rank` draws its own stream (see `stream_seed`).
    """

    def __init__(
        self, tokens: np.ndarray, block_size: int, batch_size: int, seed: int, rank: int = 0
    ) -> None:
        if len(tokens) < block_size + 1:
            raise CourseError(
                f"the training split has {len(tokens)} tokens, fewer than model.block_size + 1 = "
                f"{block_size + 1}; use a longer corpus or a smaller block_size"
            )
        self.tokens = tokens
        self.block_size = block_size
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(stream_seed(seed, rank))

    def next_batch(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """(x, y), both (batch_size, block_size) int64; y[:, t] is the token after x[:, t]."""
        # BEGIN TASK 4.1 [The pieces (one file, one idea)]: draw (x, y) from seeded random windows
        high = len(self.tokens) - self.block_size
        starts = torch.randint(high, (self.batch_size,), generator=self.generator).tolist()
        rows = np.stack([self.tokens[s : s + self.block_size + 1] for s in starts])
        window = torch.from_numpy(rows.astype(np.int64))
        x, y = window[:, :-1], window[:, 1:]
        if device.type == "cuda":
            return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(
                device, non_blocking=True
            )
        return x.contiguous().to(device), y.contiguous().to(device)
        # END TASK 4.1

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
