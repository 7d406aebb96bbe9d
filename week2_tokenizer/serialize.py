"""The tokenizer file: one versioned, human-readable JSON document.

    {
     "format": "tiny-gpt-course tokenizer",
     "version": 1,
     "pattern": "'s|'t|'re|...",                 the pre-tokenizer's regular expression
     "special_tokens": {"<|endoftext|>": 1023},
     "trained_on": {"corpus": "tinyshakespeare.txt", "sha256": "86c4...", "split": "train"},
     "vocab": ["Ā", "ā", ..., "Ġt", "he", ...],  token bytes by id (index = id)
     "merges": ["Ġ t", "h e", ...]               in rank order: left and right token, one space
    }

Bytes are written with GPT-2's byte -> printable character table (`bytes_unicode.py`): "Ġthe" is
b" the", "Ċ" is b"\\n". Every byte is one character, so the text is exact and diffs are readable,
and the table has no space, so a merge is two tokens joined by one space, as in GPT-2's vocab.bpe.

`trained_on` (`TrainedOn` below; `provenance.py` says why it is recorded) is optional: files from
before it was recorded load as they are.

This module knows the format only; `Tokenizer.load`, `save` and `sha256` (tokenizer.py) use it.

`canonical_json` is what decides the ids (everything but `trained_on`) with sorted keys and no
whitespace; its SHA-256 is the tokenizer's identity, stored in checkpoints so a model is never
paired with the wrong tokenizer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import regex

from shared.errors import CourseError
from week2_tokenizer.bytes_unicode import bytes_to_text, text_to_bytes

if TYPE_CHECKING:
    from week2_tokenizer.tokenizer import Tokenizer

FORMAT = "tiny-gpt-course tokenizer"
VERSION = 1
SPLITS = {"train": "the training split of", "all": "all of"}


@dataclass(frozen=True)
class TrainedOn:
    """The training data of a tokenizer: which corpus (by content) and which part of it."""

    corpus: str  # as the user named it: a known corpus or a path (shown, not compared)
    sha256: str  # of the corpus file's bytes
    split: str  # "train" (the first 90% of its characters, see shared.data) or "all"

    def describe(self) -> str:
        """`the training split of tinyshakespeare.txt (sha256 86c4e6aa9db7)`"""
        return f"{SPLITS[self.split]} {self.corpus} (sha256 {self.sha256[:12]})"

    def same_data(self, other: TrainedOn) -> bool:
        return (self.sha256, self.split) == (other.sha256, other.split)

    def to_json(self) -> dict[str, str]:
        return {"corpus": self.corpus, "sha256": self.sha256, "split": self.split}

    @classmethod
    def from_json(cls, value: Any) -> TrainedOn:
        """Read the file's `trained_on` object; anything malformed is one clear error."""
        keys = ("corpus", "sha256", "split")
        if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in keys):
            raise CourseError("'trained_on' must be an object of corpus, sha256 and split strings")
        if value["split"] not in SPLITS:
            raise CourseError(f"'trained_on.split' must be one of {', '.join(SPLITS)}")
        if not regex.fullmatch(r"[0-9a-f]{64}", value["sha256"]):
            raise CourseError("'trained_on.sha256' must be 64 hexadecimal digits")
        return cls(value["corpus"], value["sha256"], value["split"])


class TokenizerFields(NamedTuple):
    """What a tokenizer file holds, checked: the arguments of `Tokenizer(...)`, in order."""

    vocab: dict[int, bytes]
    merges: list[tuple[bytes, bytes]]
    special_tokens: dict[str, int]
    pattern: str
    trained_on: TrainedOn | None


def to_json_dict(tokenizer: Tokenizer) -> dict[str, Any]:
    document = {
        "format": FORMAT,
        "version": VERSION,
        "pattern": tokenizer.pattern,
        "special_tokens": dict(tokenizer.special_tokens),
    }
    if tokenizer.trained_on is not None:
        document["trained_on"] = tokenizer.trained_on.to_json()
    document["vocab"] = [bytes_to_text(tokenizer.vocab[i]) for i in range(tokenizer.vocab_size)]
    document["merges"] = [f"{bytes_to_text(a)} {bytes_to_text(b)}" for a, b in tokenizer.merges]
    return document


def to_json_text(tokenizer: Tokenizer) -> str:
    """The file's text: one key per line, one token or merge per line."""
    return json.dumps(to_json_dict(tokenizer), indent=1, ensure_ascii=False) + "\n"


def canonical_json(tokenizer: Tokenizer) -> str:
    identity = {k: v for k, v in to_json_dict(tokenizer).items() if k != "trained_on"}
    return json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _field(document: dict, key: str, kind: type, what: str) -> Any:
    if key not in document:
        raise CourseError(f"missing key {key!r}")
    value = document[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CourseError(f"{key!r} must be {what}, got {type(value).__name__}")
    return value


def _token_bytes(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise CourseError(f"{where} must be a string, got {text!r}")
    try:
        return text_to_bytes(text)
    except KeyError as error:
        raise CourseError(
            f"{where} = {text!r} has {error.args[0]!r}, not a byte character"
        ) from None


def parse_document(document: Any) -> TokenizerFields:
    """Check every part of a parsed tokenizer file. A checkpoint's embedded tokenizer comes
    through here too (`Tokenizer.from_json_dict`), so its pattern is checked like a file's."""
    if not isinstance(document, dict):
        raise CourseError("the file must hold a JSON object")
    if document.get("format") != FORMAT:
        raise CourseError(f"'format' must be {FORMAT!r}, got {document.get('format')!r}")
    version = _field(document, "version", int, "an integer")
    if version != VERSION:
        raise CourseError(f"version {version} is not supported (this code reads version {VERSION})")
    pattern = _field(document, "pattern", str, "a regular expression")
    specials = _field(document, "special_tokens", dict, "an object of token -> id")
    for special, token_id in specials.items():
        if not isinstance(token_id, int) or isinstance(token_id, bool):
            raise CourseError(
                f"special_tokens[{special!r}] must be an integer id, got {token_id!r}"
            )
    vocab_texts = _field(document, "vocab", list, "a list of tokens")
    vocab = {i: _token_bytes(text, f"vocab[{i}]") for i, text in enumerate(vocab_texts)}
    merges: list[tuple[bytes, bytes]] = []
    for rank, line in enumerate(_field(document, "merges", list, "a list of merges")):
        parts = line.split(" ") if isinstance(line, str) else []
        if len(parts) != 2 or not all(parts):
            raise CourseError(f"merges[{rank}] = {line!r} must be two tokens joined by one space")
        left, right = parts
        where = f"merges[{rank}]"
        merges.append((_token_bytes(left, where), _token_bytes(right, where)))
    trained_on = TrainedOn.from_json(document["trained_on"]) if "trained_on" in document else None
    return TokenizerFields(vocab, merges, specials, pattern, trained_on)


def read_document(path: str | os.PathLike) -> TokenizerFields:
    """Read and check a tokenizer file; errors name the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: tokenizer file not found")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CourseError(f"{path}: not a tokenizer file (not UTF-8 text)") from None
    except json.JSONDecodeError as error:
        raise CourseError(f"{path}: not valid JSON ({error})") from None
    try:
        return parse_document(document)
    except CourseError as error:
        raise CourseError(f"{path}: {error}") from None
