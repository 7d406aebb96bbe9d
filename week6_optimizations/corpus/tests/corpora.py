"""Small corpora for the corpus tests: distinct documents, written as files."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = ["love", "night", "light", "name", "rose", "death", "sweet", "heaven"]


def document(seed: int, words: int = 80) -> str:
    """A distinct play-shaped document of about `words` words (seeded)."""
    rng = random.Random(seed)
    lines = [" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(words // 8)]
    return f"SPEAKER {seed}:\n" + "\n".join(lines) + "\n"


def write_documents(folder: Path, seeds: range, kind: str = "txt") -> list[str]:
    """One document per file (.txt) or all in one .jsonl; returns their texts."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = [document(seed) for seed in seeds]
    if kind == "jsonl":
        lines = "".join(json.dumps({"text": text}) + "\n" for text in texts)
        (folder / f"docs{seeds.start}.jsonl").write_text(lines, encoding="utf-8")
    else:
        for seed, text in zip(seeds, texts, strict=True):
            (folder / f"doc{seed:04d}.{kind}").write_text(text, encoding="utf-8")
    return texts
