"""The tokenizer: a vocabulary, an ordered list of merges, special tokens and a split pattern.

    vocab           id -> bytes. Ids 0..vocab_size-1, every one of the 256 bytes among them.
    merges          [(b" ", b"t"), (b"h", b"e"), ...]: merge number r (its rank) joins two
                    tokens into the token with bytes left + right.
    special_tokens  "<|endoftext|>" -> id: strings that are one token, never split or merged.
    pattern         the pre-tokenizer's regular expression (GPT-2's by default).
    trained_on      what a trained tokenizer learned its merges from (`provenance.py`), or None.

encode: text -> pieces between special tokens -> pre-tokens -> UTF-8 bytes -> byte ids -> merges
applied in rank order (`merge.py`). A cache pre-token -> ids makes each distinct word cost once,
and the distinct words a text brings that the cache lacks are merged together, in one batch.
decode: ids -> bytes joined -> UTF-8 text; a token can hold half of a character, so only the
joined bytes decode, and invalid bytes become U+FFFD (decode_bytes gives the exact bytes).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import Any, Literal

from shared.atomic import atomic_write_text
from shared.errors import CourseError
from week2_tokenizer.merge import LONG_PIECE, MergeTable
from week2_tokenizer.pieces import PieceEncoder
from week2_tokenizer.pretokenize import (
    check_special_tokens,
    compile_pattern,
    resolve_pattern,
    safe_cut,
    special_regex,
    split_pretokens,
)
from week2_tokenizer.serialize import (
    TrainedOn,
    canonical_json,
    parse_document,
    read_document,
    to_json_text,
)

EOT = "<|endoftext|>"
CACHE_LIMIT = 1 << 18  # cached pre-tokens; the cache is emptied when it grows past this
STREAM_CHARS = 1 << 16  # encode_iterable encodes once this much text is buffered

AllowedSpecial = Literal["all", "none"] | Collection[str]


class Tokenizer:
    """Byte-level BPE. Build one with `train_bpe`, `Tokenizer.load`, `from_gpt2` or `bytes_only`."""

    def __init__(
        self,
        vocab: Mapping[int, bytes],
        merges: Sequence[tuple[bytes, bytes]],
        special_tokens: Mapping[str, int] | None = None,
        pattern: str = "gpt2",
        trained_on: TrainedOn | None = None,
    ) -> None:
        self.vocab = dict(vocab)
        self.merges = [(bytes(a), bytes(b)) for a, b in merges]
        self.special_tokens = dict(special_tokens or {})
        check_special_tokens(self.special_tokens)
        self.pattern = resolve_pattern(pattern)
        self.trained_on = trained_on
        self._regex = compile_pattern(self.pattern)
        self._id_to_bytes = _check_vocab(self.vocab)
        self._byte_ids, self._table = _merge_table(self.vocab, self.merges, self.special_tokens)
        self._cache: dict[str, Sequence[int]] = {}

    # ------------------------------------------------------------------ building

    @classmethod
    def from_merges(
        cls,
        merges: Sequence[tuple[bytes, bytes]],
        special_tokens: Iterable[str] = (),
        pattern: str = "gpt2",
    ) -> Tokenizer:
        """Ids 0-255 are the bytes, 256 + r is merge r, the special tokens come last."""
        vocab = {b: bytes([b]) for b in range(256)}
        for rank, (left, right) in enumerate(merges):
            vocab[256 + rank] = left + right
        specials = {}
        for special in dict.fromkeys(special_tokens):
            specials[special] = len(vocab)
            vocab[len(vocab)] = special.encode("utf-8")
        return cls(vocab, merges, specials, pattern)

    @classmethod
    def bytes_only(cls, special_tokens: Iterable[str] = (EOT,), pattern: str = "gpt2") -> Tokenizer:
        """No merges: one token per byte (ids 0-255), plus the special tokens (256, ...)."""
        return cls.from_merges([], special_tokens, pattern)

    @classmethod
    def from_gpt2(
        cls,
        encoder_json_path: str | os.PathLike | None = None,
        vocab_bpe_path: str | os.PathLike | None = None,
    ) -> Tokenizer:
        """GPT-2's tokenizer from its encoder.json and vocab.bpe (fetched if not given)."""
        from week2_tokenizer.gpt2 import read_gpt2

        vocab, merges, specials = read_gpt2(encoder_json_path, vocab_bpe_path)
        return cls(vocab, merges, specials, "gpt2")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer file written by `save`; every problem is one clear error."""
        fields = read_document(path)
        try:
            return cls(*fields)
        except CourseError as error:  # a vocabulary the constructor refuses: name the file
            raise CourseError(f"{path}: {error}") from None

    @classmethod
    def from_json_dict(cls, document: Any) -> Tokenizer:
        """A tokenizer from a parsed tokenizer file (a checkpoint embeds one), checked."""
        return cls(*parse_document(document))

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as one JSON file, atomically (see `serialize.py` for the format)."""
        atomic_write_text(Path(path), to_json_text(self))

    @cached_property
    def sha256(self) -> str:
        """The identity a checkpoint stores: SHA-256 of the canonical JSON of the tokenizer (what
        decides the ids; `trained_on` is left out, so recording it changes no identity)."""
        return hashlib.sha256(canonical_json(self).encode("utf-8")).hexdigest()

    # ------------------------------------------------------------------ facts

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_bytes)

    @property
    def eot_id(self) -> int | None:
        """The id of "<|endoftext|>", the token between documents, if this tokenizer has it."""
        return self.special_tokens.get(EOT)

    def __repr__(self) -> str:
        return (
            f"Tokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"special_tokens={list(self.special_tokens)})"
        )

    # ------------------------------------------------------------------ encoding

    def _allowed(self, allowed_special: AllowedSpecial) -> tuple[str, ...]:
        if allowed_special == "all":
            return tuple(self.special_tokens)
        if allowed_special == "none":
            return ()
        if isinstance(allowed_special, str):
            raise CourseError(
                f"allowed_special={allowed_special!r}: use 'all', 'none' or a set of special tokens"
            )
        unknown = [s for s in allowed_special if s not in self.special_tokens]
        if unknown:
            known = ", ".join(self.special_tokens) or "none"
            raise CourseError(f"{unknown[0]!r} is not a special token of this tokenizer ({known})")
        return tuple(allowed_special)

    @cached_property
    def _pieces(self) -> PieceEncoder:
        """The fast encoder of pre-tokens, built on first use (numpy arrays of the merges)."""
        return PieceEncoder(
            self._table, self._byte_ids, self.merges, self._id_to_bytes, self.special_tokens
        )

    def encode_piece(self, piece: str) -> list[int]:
        """The ids of one pre-token: its bytes, merged in rank order."""
        return self._pieces.encode(piece.encode("utf-8"))

    def _encode_ordinary(self, text: str, out: list[int]) -> None:
        """Append the ids of text that holds no special tokens to `out`: first the pre-tokens the
        cache lacks are merged, all together, then every pre-token's ids are read from the cache.

        A pre-token of LONG_PIECE characters or more is never cached (it can be megabytes): it is
        encoded where it comes, straight into `out`."""
        cache = self._cache
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        pieces = split_pretokens(self._regex, text)
        new = set(pieces).difference(cache)  # long pieces too, since they are never cached
        new_short = [piece for piece in new if len(piece) < LONG_PIECE]
        has_long = len(new_short) < len(new)
        encoded = self._pieces.encode_many([piece.encode("utf-8") for piece in new_short])
        cache.update(zip(new_short, encoded, strict=True))
        if not has_long:
            out.extend(chain.from_iterable(map(cache.__getitem__, pieces)))
            return
        start = 0
        for end, piece in enumerate(pieces):
            if len(piece) >= LONG_PIECE:
                out.extend(chain.from_iterable(map(cache.__getitem__, pieces[start:end])))
                self._pieces.encode_long(piece.encode("utf-8"), out)
                start = end + 1
        out.extend(chain.from_iterable(map(cache.__getitem__, pieces[start:])))

    def encode(self, text: str, allowed_special: AllowedSpecial = "all") -> list[int]:
        """Text -> ids. Special tokens in the text become their ids (the longest one wins where
        two overlap) if allowed; allowed_special="none" encodes them as ordinary text."""
        specials = self._allowed(allowed_special)
        out: list[int] = []
        finder = special_regex(specials)
        if finder is None:
            self._encode_ordinary(text, out)
            return out
        start = 0
        for match in finder.finditer(text):
            self._encode_ordinary(text[start : match.start()], out)
            out.append(self.special_tokens[match.group()])
            start = match.end()
        self._encode_ordinary(text[start:], out)
        return out

    def encode_iterable(
        self, chunks: Iterable[str], allowed_special: AllowedSpecial = "all"
    ) -> Iterator[int]:
        """Stream the ids of the concatenated chunks (e.g. a file's lines): the same ids as
        `encode` on the whole text, holding only about STREAM_CHARS characters at a time.

        The trap is a chunk boundary inside a pre-token (" wor" | "ld") or a special token
        ("<|endof" | "text|>"): text is only encoded up to a point where no later text can
        change it (`safe_cut`), keeping back enough for the longest special token."""
        specials = self._allowed(allowed_special)
        hold = max((len(s) for s in specials), default=1) - 1
        buffer = ""
        for chunk in chunks:
            buffer += chunk
            if len(buffer) < STREAM_CHARS:
                continue
            cut = safe_cut(buffer, specials, limit=len(buffer) - hold)
            if cut > 0:
                yield from self.encode(buffer[:cut], specials)
                buffer = buffer[cut:]
        if buffer:
            yield from self.encode(buffer, specials)

    # ------------------------------------------------------------------ decoding

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Ids -> the exact bytes they stand for."""
        vocab = self.vocab
        try:
            return b"".join([vocab[i] for i in ids])
        except (KeyError, TypeError):
            bad = next(i for i in ids if not isinstance(i, int) or i not in vocab)
            raise CourseError(
                f"token id {bad!r} is not in the vocabulary (ids are 0..{self.vocab_size - 1})"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; bytes that are not valid UTF-8 (a cut character) become U+FFFD."""
        # BEGIN TASK 2.1 [Bytes, not characters]: decode the ids' joined bytes; bad bytes -> U+FFFD
        return self.decode_bytes(ids).decode("utf-8", errors="replace")
        # END TASK 2.1

    def token_text(self, token_id: int) -> str:
        """One token shown readably: its bytes decoded, invalid ones escaped (for lessons)."""
        return self.decode_bytes([token_id]).decode("utf-8", errors="backslashreplace")


def _check_vocab(vocab: Mapping[int, bytes]) -> list[bytes]:
    """The vocabulary as a list indexed by id; ids must be exactly 0..n-1."""
    n = len(vocab)
    if set(vocab) != set(range(n)):
        missing = min(set(range(n)) - set(vocab), default=None)
        raise CourseError(f"vocab ids must be 0..{n - 1} with none missing (id {missing} is)")
    return [vocab[i] for i in range(n)]


def _merge_table(
    vocab: Mapping[int, bytes], merges: Sequence[tuple[bytes, bytes]], specials: Mapping[str, int]
) -> tuple[list[int], MergeTable]:
    """The byte -> id list and the (left id, right id) -> (rank, merged id) table."""
    for special, token_id in specials.items():
        if vocab.get(token_id) != special.encode("utf-8"):
            raise CourseError(f"special token {special!r}: id {token_id} does not hold its bytes")
    special_ids = set(specials.values())
    ids: dict[bytes, int] = {}
    for token_id, token in vocab.items():
        if token_id in special_ids:
            continue
        if token in ids:
            raise CourseError(
                f"token {token!r} appears twice in the vocab (ids {ids[token]}, {token_id})"
            )
        ids[token] = token_id
    missing = [b for b in range(256) if bytes([b]) not in ids]
    if missing:
        raise CourseError(f"the vocab lacks the single byte {bytes([missing[0]])!r}")
    table: MergeTable = {}
    for rank, (left, right) in enumerate(merges):
        for part in (left, right, left + right):
            if part not in ids:
                raise CourseError(
                    f"merge {rank} ({left!r}, {right!r}): token {part!r} is not in the vocab"
                )
        table[(ids[left], ids[right])] = (rank, ids[left + right])
    return [ids[bytes([b])] for b in range(256)], table


def from_json_dict(document: Any) -> Tokenizer:
    """`Tokenizer.from_json_dict`: a checked tokenizer from a parsed tokenizer file."""
    return Tokenizer.from_json_dict(document)
