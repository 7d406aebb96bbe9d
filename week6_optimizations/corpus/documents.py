"""From `DATA=` (a folder, a file or a glob) to documents: the text files a corpus is made of.

    .txt, .md         one file is one document (a book, an essay, a chat log)
    .jsonl            one line is one document: the object's "text" field
    <any of them>.gz  the same, gzipped

A file is read whole and decoded as strict UTF-8 before any of it is used: a file that is not
UTF-8 (a PDF, an image, a Latin-1 export) is skipped and counted, never half-read. Newlines are
normalised by one rule, `normalise_newlines`: CRLF and lone CR become LF, so the same text saved
on Windows and on Linux is the same document, and the bytes the model is scored on (bits per
byte) are the bytes of the normalised text, the text it was trained and evaluated on.
"""

from __future__ import annotations

import glob
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.errors import CourseError

TEXT_SUFFIXES = (".txt", ".md")
LINE_SUFFIXES = (".jsonl",)
SUFFIXES = TEXT_SUFFIXES + LINE_SUFFIXES
ALLOWED = ".txt, .md or .jsonl (or gzipped: .txt.gz, .md.gz, .jsonl.gz)"


@dataclass(frozen=True)
class Document:
    """One document's text (newlines normalised) and where it came from (`file` or `file:line`)."""

    text: str
    source: str


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR to LF: the one newline rule of prepared corpora."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def kind_of(path: Path) -> str | None:
    """The suffix that says how to read `path` (".txt", ".md", ".jsonl"), or None."""
    name = path.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return next((suffix for suffix in SUFFIXES if name.endswith(suffix)), None)


def find_files(data: str) -> list[Path]:
    """The files `DATA=` names, sorted: a file, every readable file under a folder, or a glob's
    matches. Nothing to read is a one-line error that names `data`."""
    if not data.strip():
        raise CourseError(f"DATA= is empty: give a folder, a file or a glob of {ALLOWED} files")
    path = Path(data).expanduser()
    if path.is_file():
        if kind_of(path) is None:
            raise CourseError(f"DATA={data}: not a {ALLOWED} file")
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and kind_of(p) is not None)
        if not files:
            raise CourseError(f"DATA={data}: the folder holds no {ALLOWED} file")
        return files
    if glob.has_magic(data):
        matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        files = [p for p in matches if p.is_file() and kind_of(p) is not None]
        if not matches:
            raise CourseError(f"DATA={data}: the pattern matches no file")
        if not files:
            raise CourseError(f"DATA={data}: the pattern matches no {ALLOWED} file")
        return files
    raise CourseError(f"DATA={data}: no such file or folder")


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if it ends in .gz (a damaged gzip is a one-line error)."""
    if path.name.lower().endswith(".gz"):
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read()
        except (OSError, EOFError) as error:
            raise CourseError(f"{path}: not a readable gzip file ({error})") from None
    return path.read_bytes()


def decode(path: Path) -> str | None:
    """The file's text, or None when it is not UTF-8 (the caller skips and counts it)."""
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        return None


def documents_in(path: Path, text: str) -> Iterator[Document]:
    """The documents of one decoded file: itself, or one per JSONL line (blank lines skipped).
    A line that is not a JSON object with a string "text" stops the preparation, naming it."""
    if kind_of(path) in TEXT_SUFFIXES:
        yield Document(normalise_newlines(text), str(path))
        return
    # JSON Lines ends a line at "\n" only: str.splitlines would also cut at U+2028 and
    # U+0085, which JSON allows unescaped inside a string.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CourseError(f"{where}: not a JSON line ({error.msg})") from None
        if not isinstance(record, dict) or "text" not in record:
            raise CourseError(f'{where}: no "text" field (each line needs {{"text": "..."}})')
        if not isinstance(record["text"], str):
            raise CourseError(f'{where}: "text" is {type(record["text"]).__name__}, not a string')
        yield Document(normalise_newlines(record["text"]), where)
