"""References the tests compare the course with: an obviously-correct BPE trainer (recount every
pair after every merge) and tiktoken, OpenAI's encoder, built offline."""

from __future__ import annotations

import ast
import importlib.util
import json
import unicodedata
from collections import Counter
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path

import regex


def reference_merges(
    text: str, n_merges: int, specials: list[str], pattern: str
) -> list[tuple[bytes, bytes]]:
    segments = [text]
    if specials:
        alternatives = "|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True))
        segments = regex.split(alternatives, text)
    pieces: Counter[bytes] = Counter()
    for segment in segments:
        for piece in regex.findall(pattern, segment):
            pieces[piece.encode("utf-8")] += 1
    return recount_merges(pieces, n_merges)


def recount_merges(
    pretoken_counts: Mapping[bytes, int], n_merges: int
) -> list[tuple[bytes, bytes]]:
    """The obviously correct trainer on weighted pre-tokens: recount every pair of every word
    after every merge; ties to the greatest (bytes, bytes)."""
    words: Counter[tuple[bytes, ...]] = Counter()
    for piece, count in pretoken_counts.items():
        words[tuple(bytes([b]) for b in piece)] += count
    merges = []
    for _ in range(n_merges):
        pairs: Counter[tuple[bytes, bytes]] = Counter()
        for word, count in words.items():
            for pair in pairwise(word):
                pairs[pair] += count
        if not pairs:
            break
        best = max(pairs, key=lambda pair: (pairs[pair], pair))
        merges.append(best)
        new_words: Counter[tuple[bytes, ...]] = Counter()
        for word, count in words.items():
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            new_words[tuple(merged)] += count
        words = new_words
    return merges


def tiktoken_gpt2(encoder_json: Path):
    """tiktoken's GPT-2 encoding built offline from GPT-2's encoder.json (no download)."""
    import tiktoken

    from week2_tokenizer.bytes_unicode import text_to_bytes
    from week2_tokenizer.pretokenize import GPT2_PATTERN

    encoder = json.loads(encoder_json.read_text(encoding="utf-8"))
    ranks = {text_to_bytes(t): i for t, i in encoder.items() if t != "<|endoftext|>"}
    return tiktoken.Encoding(
        "gpt2-offline",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": encoder["<|endoftext|>"]},
    )


def cl100k_pattern() -> str:
    """tiktoken's cl100k_base pattern, read from its source: calling `cl100k_base()` would
    download the 100k-token vocabulary, and only the pattern string is needed."""
    source = Path(importlib.util.find_spec("tiktoken_ext.openai_public").origin).read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == "cl100k_base":
            for item in ast.walk(node):
                if isinstance(item, ast.Dict):
                    keys = [k.value for k in item.keys if isinstance(k, ast.Constant)]
                    if "pat_str" in keys:
                        return ast.literal_eval(item.values[keys.index("pat_str")])
    raise AssertionError("no pat_str in tiktoken_ext/openai_public.py's cl100k_base")


def unassigned_in_pythons_unicode() -> list[int]:
    """Code points Python's own Unicode table (14.0 in Python 3.11) leaves unassigned, in the
    planes where Unicode adds scripts (0-3). Later versions made thousands of them letters or
    digits (9,392 by Unicode 16.0, tiktoken's table), which a pre-tokenizer treats unlike the
    punctuation an unassigned code point counts as."""
    return [c for c in range(0x40000) if unicodedata.category(chr(c)) == "Cn"]


def letter_probe(points: list[int]) -> str:
    """Each code point c followed by "'s": a letter or digit leaves "'s" to the contraction, any
    other symbol takes the "'" along, so the ids show which one a Unicode table calls c."""
    return "".join(chr(c) + "'s " for c in points)
