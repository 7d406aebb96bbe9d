"""`make prepare DATA=<folder, file or glob> NAME=<corpus>`: files to a corpus a run trains on.

    files --documents.py--> documents (UTF-8 checked, newlines normalised)
          --drop--> shorter than prepare.min_chars, exact duplicates (same SHA-256)
          --split.py--> train or validation, by each document's hash
          --tokenizer--> trained on the training documents (bpe) or built (bytes, gpt2)
          --encode, in worker processes--> [eot] + ids per document
          --shards.py--> <cache>/corpora/<name>/{train,val}_NNNNN.bin, tokenizer.json
          --manifest.py--> manifest.json, last

The files are read twice when a BPE tokenizer is trained (once for its sample, once to
encode), and never held in memory at once: memory stays bounded by one file, one batch of
documents in flight and one shard being filled. The new corpus is written into a hidden folder
beside the old one and moved into place only when complete, so a stopped or failed preparation
loses nothing, and an existing corpus is replaced only with `OVERWRITE=1`.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from shared.config import Config
from shared.data import KNOWN_FILES, prepared_dir
from shared.errors import CourseError
from week2_tokenizer import Tokenizer, TokenizerConfig
from week2_tokenizer.provenance import train_recorded
from week2_tokenizer.serialize import TrainedOn
from week4_training.data import token_dtype
from week6_optimizations.corpus.config import PrepareConfig
from week6_optimizations.corpus.documents import Document, decode, documents_in, find_files
from week6_optimizations.corpus.manifest import FORMAT, VERSION, split_summary, write_manifest
from week6_optimizations.corpus.shards import ShardWriter
from week6_optimizations.corpus.split import is_validation, text_sha256

NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
BATCH_CHARS = 8_000_000  # characters of documents handed to the workers at a time
TOKENIZER_FILE = "tokenizer.json"


@dataclass
class Counts:
    """What the scan met: files read or skipped, documents kept or dropped."""

    files: int = 0
    not_utf8: list[str] = field(default_factory=list)
    documents: int = 0
    short: int = 0
    duplicates: int = 0


def check_name(name: str) -> None:
    if not NAME_RULE.fullmatch(name) or name in KNOWN_FILES:
        raise CourseError(
            f"NAME={name!r}: a corpus name is 1-64 letters, digits, '.', '_' or '-', starting "
            f"with a letter or digit, and not a known file ({', '.join(KNOWN_FILES)})"
        )


def scan(
    files: list[Path], settings: PrepareConfig, counts: Counts, on_file: Callable[[Path], object]
) -> Iterator[tuple[Document, bool]]:
    """Every kept document in file order, with whether it is validation; fills `counts`."""
    seen: set[str] = set()
    for path in files:
        text = decode(path)
        counts.files += 1
        if text is None:
            counts.not_utf8.append(str(path))
        else:
            for document in documents_in(path, text):
                counts.documents += 1
                if len(document.text) < settings.min_chars:
                    counts.short += 1
                    continue
                sha = text_sha256(document.text)
                if sha in seen:
                    counts.duplicates += 1
                    continue
                seen.add(sha)
                yield document, is_validation(sha, settings.val_fraction)
        on_file(path)


def build_tokenizer(
    cfg: TokenizerConfig, files: list[Path], settings: PrepareConfig, name: str
) -> Tokenizer:
    """bytes and gpt2 are built; `tokenizer.path` is reused as it is; bpe is trained on the
    first `prepare.tokenizer_chars` characters of the training documents, never on validation."""
    if cfg.kind == "bytes":
        return Tokenizer.bytes_only(cfg.special_tokens, cfg.pattern)
    if cfg.kind == "gpt2":
        return Tokenizer.from_gpt2()
    if cfg.path:
        return Tokenizer.load(cfg.path)
    sample: list[str] = []
    size = 0
    for document, validation in scan(files, settings, Counts(), lambda _: None):
        if not validation:
            sample.append(document.text[: settings.tokenizer_chars - size])
            size += len(sample[-1])
            if size >= settings.tokenizer_chars:
                break
    if not sample:
        raise CourseError("no training document to train the tokenizer on (see the counts above)")
    text = "\n\n".join(sample)
    print(f"tokenizer: training BPE with vocab_size {cfg.vocab_size} on {size:,} characters")
    trained_on = TrainedOn(name, text_sha256(text), "train")
    return train_recorded(
        text,
        trained_on,
        cfg.vocab_size,
        list(cfg.special_tokens),
        cfg.pattern,
        "tokenizer.vocab_size",
    )


# The encoding workers: each holds the tokenizer, set once when it starts.
_worker: Tokenizer | None = None


def _start_worker(tokenizer: Tokenizer) -> None:
    global _worker
    _worker = tokenizer


def encode_document(text: str) -> tuple[np.ndarray, int]:
    """`[eot] + encode(text)` (special-token strings in the text stay text), and its UTF-8 size."""
    assert _worker is not None, "the worker's tokenizer is set by _start_worker"
    ids = _worker.encode(text, allowed_special="none")
    eot = _worker.eot_id
    stream = ids if eot is None else [eot, *ids]
    return np.asarray(stream, dtype=token_dtype(_worker.vocab_size)), len(text.encode("utf-8"))


def batches(documents: Iterator[tuple[Document, bool]]) -> Iterator[list[tuple[str, bool]]]:
    """The documents in batches of about BATCH_CHARS characters (what is in flight at a time)."""
    batch: list[tuple[str, bool]] = []
    size = 0
    for document, validation in documents:
        batch.append((document.text, validation))
        size += len(document.text)
        if size >= BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def encode_all(
    documents: Iterator[tuple[Document, bool]],
    tokenizer: Tokenizer,
    writers: dict[bool, ShardWriter],
    workers: int,
) -> None:
    """Encode every document with `workers` processes (one: in this process) into the writers,
    in document order; the next batch is read while the workers encode the current one."""
    if workers == 1:
        _start_worker(tokenizer)
        for batch in batches(documents):
            for text, validation in batch:
                writers[validation].add(*encode_document(text))
        return
    method = "fork" if sys.platform == "linux" else "spawn"  # fork: no re-import of PyTorch
    context = multiprocessing.get_context(method)
    with context.Pool(workers, initializer=_start_worker, initargs=(tokenizer,)) as pool:
        pending = None
        for batch in batches(documents):
            submitted = pool.map_async(encode_document, [text for text, _ in batch], chunksize=4)
            if pending is not None:
                _write(pending, writers)
            pending = (batch, submitted)
        if pending is not None:
            _write(pending, writers)


def _write(pending: tuple, writers: dict[bool, ShardWriter]) -> None:
    batch, submitted = pending
    for (_, validation), (tokens, n_bytes) in zip(batch, submitted.get(), strict=True):
        writers[validation].add(tokens, n_bytes)


def check_counts(data: str, counts: Counts, writers: dict[bool, ShardWriter], val: float) -> None:
    """Refuse a corpus with nothing in a split, saying what was read and dropped."""
    if counts.documents == 0:
        if counts.not_utf8:
            raise CourseError(
                f"DATA={data}: no text: all {len(counts.not_utf8)} files are not UTF-8 (such "
                f"as {counts.not_utf8[0]})"
            )
        raise CourseError(f"DATA={data}: the files hold no document")
    kept = {split: sum(r.documents for r in w.records) for split, w in writers.items()}
    if kept[False] == 0:
        raise CourseError(
            f"DATA={data}: no training document left of {counts.documents} ({counts.short} "
            f"shorter than prepare.min_chars, {counts.duplicates} duplicates)"
        )
    if kept[True] == 0:
        raise CourseError(
            f"DATA={data}: none of the {kept[False]} documents fell in the validation split "
            f"(prepare.val_fraction={val}, chosen by hash); add documents or raise "
            "prepare.val_fraction (one file is one document: a single book cannot be split "
            "this way, train on it directly with data.corpus=<the file>)"
        )


def summary(counts: Counts, writers: dict[bool, ShardWriter], seconds: float, read: int) -> str:
    """The table `make prepare` ends with."""
    rows = [("split", "documents", "bytes", "tokens", "shards")]
    for label, validation in (("train", False), ("val", True)):
        records = writers[validation].records
        rows.append(
            (
                label,
                f"{sum(r.documents for r in records):,}",
                f"{sum(r.bytes for r in records):,}",
                f"{sum(r.tokens for r in records):,}",
                f"{len(records)}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    text = sum(r.bytes for writer in writers.values() for r in writer.records)
    lines.append(
        f"read {counts.files} files ({read / 1e6:,.1f} MB on disk) in {seconds:.1f} s: "
        f"{text / 1e6:,.1f} MB of text kept, {text / 1e6 / max(seconds, 1e-9):.1f} MB/s; "
        f"{counts.documents:,} documents, dropped {counts.short:,} shorter than min_chars and "
        f"{counts.duplicates:,} duplicates; skipped {len(counts.not_utf8)} files that are not UTF-8"
    )
    return "\n".join(lines)


def prepare(
    data: str, name: str, cfg: Config, overwrite: bool = False, progress: bool = True
) -> Path:
    """Prepare `data` as the corpus `name` with the config's `tokenizer` and `prepare`
    sections; returns its folder."""
    check_name(name)
    target = prepared_dir(name)
    if target.exists() and not overwrite:
        raise CourseError(
            f"corpus {name} already exists ({target}); OVERWRITE=1 replaces it, or choose "
            "another NAME"
        )
    files = find_files(data)
    cfg = cfg.with_defaults("tokenizer", "prepare")
    settings: PrepareConfig = cfg.prepare
    workers = settings.workers or os.cpu_count() or 1
    started = time.perf_counter()
    building = target.parent / f".{name}.preparing-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        tokenizer = build_tokenizer(cfg.tokenizer, files, settings, name)
        tokenizer.save(building / TOKENIZER_FILE)
        dtype = token_dtype(tokenizer.vocab_size)
        writers = {
            v: ShardWriter(building, "val" if v else "train", dtype, settings.shard_tokens)
            for v in (False, True)
        }
        counts = Counts()
        total = sum(path.stat().st_size for path in files)
        with tqdm(
            total=total, unit="B", unit_scale=True, desc="encoding", disable=not progress
        ) as bar:
            documents = scan(files, settings, counts, lambda p: bar.update(p.stat().st_size))
            encode_all(documents, tokenizer, writers, workers)
        for writer in writers.values():
            writer.flush()
        check_counts(data, counts, writers, settings.val_fraction)
        write_manifest(
            building,
            {
                "format": FORMAT,
                "version": VERSION,
                "name": name,
                "data": data,
                "dtype": dtype.name,
                "tokenizer": {
                    "file": TOKENIZER_FILE,
                    "kind": cfg.tokenizer.kind,
                    "vocab_size": tokenizer.vocab_size,
                    "sha256": tokenizer.sha256,
                    "trained_on": None
                    if tokenizer.trained_on is None
                    else tokenizer.trained_on.to_json(),
                },
                "prepare": asdict(settings),
                "files": {
                    "read": counts.files,
                    "not_utf8": counts.not_utf8,
                    "documents": counts.documents,
                    "short": counts.short,
                    "duplicates": counts.duplicates,
                },
                "splits": {
                    "train": split_summary(writers[False].records),
                    "val": split_summary(writers[True].records),
                },
            },
        )
        _move_into_place(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    print(summary(counts, writers, time.perf_counter() - started, total))
    print(f"prepared {target}; train on it with data.corpus={name}")
    return target


def _move_into_place(building: Path, target: Path) -> None:
    """Replace `target` by the complete `building` folder; the old corpus goes only after."""
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    building.rename(target)
    shutil.rmtree(old, ignore_errors=True)
