"""The course's data files: where they come from, where they are kept, how they are checked.

Every file is known by name, public address and SHA-256. `fetch(name)` returns a local path,
downloading into a git-ignored cache (`data/` at the repository root, or `$COURSE_DATA_DIR`) if
needed. A download goes to a temporary file, is checked, and only then renamed into place, so a
failed or corrupt download leaves nothing behind. With `COURSE_DATA_MIRROR` set to a folder or
URL prefix holding the same file names, that is used instead of the network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from shared.atomic import atomic_path
from shared.errors import CourseError
from shared.paths import REPO_ROOT

COURSE = "course"
GPT2_SMALL = "gpt2-small"  # OpenAI's GPT-2 small (124M) weights, 548 MB: `make gpt2`


@dataclass(frozen=True)
class KnownFile:
    name: str  # path relative to the cache and to a mirror
    url: str
    sha256: str
    group: str = COURSE  # `make data` fetches the course group; the others on request


_GPT2 = "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main"
# Hugging Face's copy of GPT-2 small, pinned to one revision so the checksums stay true.
_GPT2_WEIGHTS = (
    "https://huggingface.co/openai-community/gpt2/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e"
)
KNOWN_FILES: dict[str, KnownFile] = {
    f.name: f
    for f in (
        KnownFile(
            "tinyshakespeare.txt",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        ),
        KnownFile(
            "gpt2/encoder.json",
            f"{_GPT2}/encoder.json",
            "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
        ),
        KnownFile(
            "gpt2/vocab.bpe",
            f"{_GPT2}/vocab.bpe",
            "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
        ),
        KnownFile(
            "gpt2/model.safetensors",
            f"{_GPT2_WEIGHTS}/model.safetensors",
            "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707",
            GPT2_SMALL,
        ),
        KnownFile(
            "gpt2/config.json",
            f"{_GPT2_WEIGHTS}/config.json",
            "0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4",
            GPT2_SMALL,
        ),
    )
}


class DataError(CourseError):
    """A data file could not be found, fetched or verified."""


def cache_dir() -> Path:
    """The folder downloads are kept in: `$COURSE_DATA_DIR`, else `data/` in the repository."""
    return Path(os.environ.get("COURSE_DATA_DIR") or REPO_ROOT / "data")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source_of(known: KnownFile) -> str:
    """The mirror's copy when `COURSE_DATA_MIRROR` is set, else the canonical address."""
    mirror = os.environ.get("COURSE_DATA_MIRROR", "").strip()
    if not mirror:
        return known.url
    if "://" in mirror:
        return mirror.rstrip("/") + "/" + known.name
    return str(Path(mirror).expanduser().resolve() / known.name)


def _copy_from(source: str, destination: Path, label: str) -> None:
    """Copy a local file or URL into `destination`, with a progress bar for downloads."""
    if "://" not in source:
        if not Path(source).is_file():
            raise DataError(f"{label}: not found in COURSE_DATA_MIRROR (looked for {source})")
        shutil.copyfile(source, destination)
        return
    try:
        with urllib.request.urlopen(source, timeout=30) as response, open(destination, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DataError(
            f"{label}: could not download {source} ({reason}); with no network, set "
            "COURSE_DATA_MIRROR to a folder holding the course files (README: 'Working offline')"
        ) from None


def fetch(name: str) -> Path:
    """Return the local path of known file `name`, fetching and verifying it if needed."""
    if name not in KNOWN_FILES:
        raise DataError(f"unknown data file {name!r}; known: {', '.join(KNOWN_FILES)}")
    known = KNOWN_FILES[name]
    target = cache_dir() / known.name
    if target.is_file():
        if sha256_of(target) == known.sha256:
            return target
        target.unlink()  # a damaged cache entry is ours to replace, never the user's file
    source = _source_of(known)
    with atomic_path(target) as tmp:
        _copy_from(source, tmp, name)
        actual = sha256_of(tmp)
        if actual != known.sha256:
            raise DataError(
                f"{name}: checksum mismatch for {source} (expected sha256 {known.sha256[:12]}..., "
                f"got {actual[:12]}...); the file was not kept"
            )
    return target


def group_files(group: str = COURSE) -> list[str]:
    """The names of the known files in `group` (`course`: what `make data` fetches)."""
    return [name for name, known in KNOWN_FILES.items() if known.group == group]


def fetch_all(group: str = COURSE) -> list[Path]:
    return [fetch(name) for name in group_files(group)]


def corpus_path(corpus: str) -> Path:
    """A known corpus name (fetched if needed) or the path of a user's own text file."""
    if corpus in KNOWN_FILES:
        return fetch(corpus)
    path = Path(corpus)
    if not path.is_file():
        known = ", ".join(group_files())
        raise DataError(
            f"corpus {corpus!r}: no such file, not one of {known}, and no corpus prepared under "
            f"that name (make prepare DATA=<files> NAME={corpus} prepares one)"
        )
    return path


PREPARED_MANIFEST = "manifest.json"


def prepared_dir(name: str) -> Path:
    """The folder of the corpus prepared as `name` (`make prepare NAME=...`): its token shards,
    its tokenizer and `manifest.json`, the file that says what the folder holds and is written
    last. A name is a plain file name, never a path, so it cannot point outside the folder."""
    return cache_dir() / "corpora" / name


def is_prepared(corpus: str) -> bool:
    """Whether `data.corpus` names a prepared corpus rather than a text file: a plain name (no
    folder part, not a known file, not a file that exists) whose folder holds a manifest."""
    if corpus in KNOWN_FILES or Path(corpus).name != corpus or Path(corpus).is_file():
        return False
    return (prepared_dir(corpus) / PREPARED_MANIFEST).is_file()


def read_text(path: str | Path) -> str:
    """Read a UTF-8 text file exactly as its bytes are; a missing, empty or non-UTF-8 file is a
    clear error.

    No newline translation: Python's text mode would turn CRLF into LF, and then the text the
    model is scored on would have fewer bytes than the file, which changes bits per byte. Every
    reader of a corpus in the course keeps the bytes as they are (week 2's chunked reader too).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            text = handle.read()
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from None
    if not text:
        raise DataError(f"{path}: the file is empty")
    return text
