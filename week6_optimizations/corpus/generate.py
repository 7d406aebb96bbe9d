"""`python -m week6_optimizations.corpus generate --out <folder> --mb 100`: a corpus of many files,
built offline from tiny shakespeare, for trying `make prepare` at a scale of your choosing.

Each document is a seeded random draw of the play's speeches (so documents differ, and
deduplication keeps them), written as a .txt file, a gzipped .md file with Windows newlines, or
a .jsonl file of several documents, in turn. The same seed gives the same files, byte for byte.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from shared.data import corpus_path, read_text
from shared.errors import CourseError

SOURCE = "tinyshakespeare.txt"
FILE_BYTES = 50_000  # about this much text per file
JSONL_DOCUMENTS = 5  # documents per .jsonl file


def speeches() -> list[str]:
    """Tiny shakespeare's speeches (the blocks between blank lines)."""
    return [block for block in read_text(corpus_path(SOURCE)).split("\n\n") if block.strip()]


def draw(rng: random.Random, pool: list[str], size: int) -> str:
    """Random speeches, joined as the play joins them, until about `size` characters."""
    parts: list[str] = []
    total = 0
    while total < size:
        parts.append(rng.choice(pool))
        total += len(parts[-1]) + 2
    return "\n\n".join(parts) + "\n"


def generate(out: Path, megabytes: float, seed: int = 0) -> list[Path]:
    """Write about `megabytes` MB of text as files under `out` (a new or empty folder)."""
    if megabytes <= 0:
        raise CourseError(f"--mb {megabytes}: must be a positive number of megabytes")
    if out.exists() and any(out.iterdir()):
        raise CourseError(f"{out}: the folder is not empty; generate into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = speeches()
    written: list[Path] = []
    total = 0
    while total < megabytes * 1e6:
        index = len(written)
        folder = out / f"part{index // 1000:03d}"  # at most 1,000 files a folder
        folder.mkdir(exist_ok=True)
        kind = index % 3
        if kind == 0:
            text = draw(rng, pool, FILE_BYTES)
            path = folder / f"doc{index:06d}.txt"
            path.write_text(text, encoding="utf-8", newline="")
        elif kind == 1:
            text = draw(rng, pool, FILE_BYTES)
            path = folder / f"doc{index:06d}.md.gz"
            with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
                handle.write(text.replace("\n", "\r\n"))
        else:
            lines = [draw(rng, pool, FILE_BYTES // JSONL_DOCUMENTS) for _ in range(JSONL_DOCUMENTS)]
            text = "".join(lines)
            path = folder / f"doc{index:06d}.jsonl"
            records = "".join(json.dumps({"text": line}) + "\n" for line in lines)
            path.write_text(records, encoding="utf-8")
        written.append(path)
        total += len(text.encode("utf-8"))
    return written
