"""A first look at the corpus: how big it is, which characters and words it uses.

Before modelling a text, look at it. These numbers explain later ones: the number of distinct
characters is the vocabulary a character-level model needs; the byte count is the denominator of
bits per byte; the most common words are what a tokenizer will learn to merge first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import regex

WORD = regex.compile(r"[\p{L}']+")


@dataclass
class CorpusStats:
    n_bytes: int
    n_chars: int
    n_lines: int
    n_distinct_chars: int
    n_words: int
    char_counts: Counter
    top_words: list[tuple[str, int]]


def corpus_stats(text: str, top: int = 20) -> CorpusStats:
    """Count bytes (UTF-8), characters, lines, distinct characters and the `top` commonest words."""
    words = Counter(word.lower() for word in WORD.findall(text))
    return CorpusStats(
        n_bytes=len(text.encode("utf-8")),
        n_chars=len(text),
        n_lines=text.count("\n") + (0 if text.endswith("\n") or not text else 1),
        n_distinct_chars=len(set(text)),
        n_words=sum(words.values()),
        char_counts=Counter(text),
        top_words=words.most_common(top),
    )


def describe(stats: CorpusStats) -> str:
    lines = [
        f"bytes            {stats.n_bytes:,}",
        f"characters       {stats.n_chars:,}",
        f"lines            {stats.n_lines:,}",
        f"distinct chars   {stats.n_distinct_chars}",
        f"words            {stats.n_words:,}",
        "most common words: " + ", ".join(f"{w} ({n})" for w, n in stats.top_words),
    ]
    return "\n".join(lines)


def plot_char_frequency(stats: CorpusStats, path: Path) -> Path:
    """A bar chart of every character's frequency, most common first, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chars, counts = zip(*stats.char_counts.most_common(), strict=True)
    labels = [repr(c)[1:-1] if not c.isprintable() or c == " " else c for c in chars]
    labels = ["' '" if c == " " else label for c, label in zip(chars, labels, strict=True)]
    fig, ax = plt.subplots(figsize=(max(8, len(chars) * 0.18), 4))
    ax.bar(range(len(chars)), [n / stats.n_chars for n in counts])
    ax.set_xticks(range(len(chars)), labels, fontsize=7)
    ax.set_ylabel("fraction of characters")
    ax.set_title(f"Character frequency ({stats.n_distinct_chars} distinct characters)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
