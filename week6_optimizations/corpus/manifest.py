"""`manifest.json`: what a prepared corpus folder holds, written last, read first.

    {"format": "shards", "version": 1, "name": "mybooks", "data": "books/", "dtype": "uint16",
     "tokenizer": {"file": "tokenizer.json", "kind": "bpe", "vocab_size": 1024, "sha256": ...},
     "prepare": {...the prepare section...}, "files": {...what was read, skipped, dropped...},
     "splits": {"train": {"documents": ..., "bytes": ..., "tokens": ..., "shards": [...]},
                "val": {...}}}

Written last and atomically, it marks the folder complete: a preparation stopped halfway leaves
no manifest, so no run mistakes its shards for a corpus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.atomic import atomic_write_text
from shared.data import PREPARED_MANIFEST
from shared.errors import CourseError
from week6_optimizations.corpus.shards import ShardRecord

FORMAT = "shards"
VERSION = 1


def split_summary(records: list[ShardRecord]) -> dict[str, Any]:
    """A split's totals and its shards, as the manifest lists them."""
    return {
        "documents": sum(r.documents for r in records),
        "bytes": sum(r.bytes for r in records),
        "tokens": sum(r.tokens for r in records),
        "shards": [r.to_json() for r in records],
    }


def write_manifest(folder: Path, document: dict[str, Any]) -> None:
    atomic_write_text(folder / PREPARED_MANIFEST, json.dumps(document, indent=1) + "\n")


@dataclass(frozen=True)
class Manifest:
    """A read manifest: the parts training needs, checked to be there."""

    path: Path
    document: dict[str, Any]

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / PREPARED_MANIFEST
        again = f"prepare it again (make prepare DATA=<files> NAME={folder.name} OVERWRITE=1)"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            splits = document["splits"]
            for split in ("train", "val"):
                for shard in splits[split]["shards"]:
                    ShardRecord(**shard)
            document["tokenizer"]["sha256"], document["dtype"]  # noqa: B018 - both must be there
        except (OSError, ValueError, KeyError, TypeError):
            raise CourseError(f"{path}: not a readable corpus manifest; {again}") from None
        if document.get("version") != VERSION:
            raise CourseError(f"{path}: manifest version {document.get('version')!r}; {again}")
        return cls(path, document)

    def shards(self, split: str) -> list[ShardRecord]:
        return [ShardRecord(**shard) for shard in self.document["splits"][split]["shards"]]

    def split_bytes(self, split: str) -> int:
        return int(self.document["splits"][split]["bytes"])
