"""An obviously-correct BPE trainer for the tests: recount every pair after every merge."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import regex


def reference_merges(
    text: str, n_merges: int, specials: list[str], pattern: str
) -> list[tuple[bytes, bytes]]:
    segments = [text]
    if specials:
        alternatives = "|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True))
        segments = regex.split(alternatives, text)
    words: Counter[tuple[bytes, ...]] = Counter()
    for segment in segments:
        for piece in regex.findall(pattern, segment):
            words[tuple(bytes([b]) for b in piece.encode("utf-8"))] += 1
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
