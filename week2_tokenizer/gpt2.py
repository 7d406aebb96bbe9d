"""GPT-2's released tokenizer files, read into this course's Tokenizer.

encoder.json maps each token, written with the byte -> printable character table, to its id
(50,257 of them: 256 bytes, 50,000 merges, "<|endoftext|>" = 50256). vocab.bpe lists the merges
in rank order after a "#version" line, one "left right" pair per line. GPT-2's byte tokens are not
ids 0-255 in byte order ("!" is id 0), which is why the Tokenizer maps bytes to ids by a table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from shared.data import fetch
from shared.errors import CourseError
from week2_tokenizer.bytes_unicode import text_to_bytes

GPT2_EOT = "<|endoftext|>"


def read_gpt2(
    encoder_json_path: str | os.PathLike | None = None,
    vocab_bpe_path: str | os.PathLike | None = None,
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]], dict[str, int]]:
    """(vocab, merges, special tokens) of GPT-2; the files are fetched when no path is given."""
    encoder_path = Path(encoder_json_path or fetch("gpt2/encoder.json"))
    merges_path = Path(vocab_bpe_path or fetch("gpt2/vocab.bpe"))
    for path in (encoder_path, merges_path):
        if not path.is_file():
            raise CourseError(f"{path}: GPT-2 tokenizer file not found")
    try:
        encoder = json.loads(encoder_path.read_text(encoding="utf-8"))
        vocab = {token_id: text_to_bytes(text) for text, token_id in encoder.items()}
        lines = merges_path.read_text(encoding="utf-8").splitlines()
        merges = [
            (text_to_bytes(left), text_to_bytes(right))
            for left, right in (line.split(" ") for line in lines[1:] if line)
        ]
    except (ValueError, KeyError, AttributeError, TypeError) as error:
        raise CourseError(
            f"{encoder_path} / {merges_path}: not GPT-2's encoder.json and vocab.bpe ({error})"
        ) from None
    specials = {GPT2_EOT: encoder[GPT2_EOT]} if GPT2_EOT in encoder else {}
    return vocab, merges, specials
