"""Train or validation, decided by each document alone: the hash of its text.

A document is validation when the first 64 bits of the SHA-256 of its (normalised) text, read as
a fraction of 2**64, fall below `val_fraction`. No document's side depends on any other, so
adding files, removing files or reading them in another order leaves every other document
where it was, and a duplicate can never sit on both sides (it has the same hash).
Tiny shakespeare's rule (the last 10% of its characters, week 1) suits one file; this one
suits many.
"""

from __future__ import annotations

import hashlib


def text_sha256(text: str) -> str:
    """The document's identity: SHA-256 of its UTF-8 bytes (duplicates share it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_validation(sha256: str, val_fraction: float) -> bool:
    """Whether the document of hash `sha256` (hex) belongs to the validation split."""
    return int(sha256[:16], 16) < val_fraction * 2**64
