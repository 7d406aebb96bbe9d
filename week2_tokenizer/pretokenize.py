"""Pre-tokenization: cut text into the pieces that BPE merges inside, never across.

Merging freely across a whole text would learn tokens like "dog." and "dog!" as unrelated words,
and tokens that glue the end of one word to the start of the next. So text is first cut by a
regular expression into pre-tokens (a word with its leading space, a run of digits, a run of
punctuation, a run of whitespace) and merges happen only inside one pre-token. Special tokens
such as "<|endoftext|>" are cut out before that: no merge ever crosses one.

Training only needs how often each distinct pre-token occurs (Shakespeare's 300,000 pre-tokens
are only 15,000 distinct strings), so that is what `count_pretokens` returns. Big inputs are
read in chunks cut where pre-tokenization cannot change (see `safe_cut`) and counted by several
processes.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import regex

from shared.errors import CourseError

# GPT-2's pattern: contractions, letters, digits, other symbols (each with an optional leading
# space), then whitespace. `\s+(?!\S)` leaves the last space of a run for the next word.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# GPT-4's (tiktoken cl100k_base): case-insensitive contractions, digits in groups of at most 3,
# punctuation keeps its trailing newlines, and a word may start with one non-letter symbol.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
)
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}

CHUNK_CHARS = 1 << 20  # read and count big inputs one mebi-character at a time


def resolve_pattern(pattern: str) -> str:
    """A pattern name ("gpt2", "gpt4") or a regular expression -> the regular expression."""
    return PATTERNS.get(pattern, pattern)


@lru_cache(maxsize=16)
def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile a split pattern (by name or as a regular expression) with the `regex` module."""
    try:
        return regex.compile(resolve_pattern(pattern))
    except regex.error as error:
        raise CourseError(
            f"pre-tokenizer pattern {pattern!r} is not a valid regex ({error})"
        ) from None


@lru_cache(maxsize=16)
def special_regex(specials: tuple[str, ...]) -> regex.Pattern | None:
    """One regex matching any special token; longer ones are tried first, so the longest wins."""
    if not specials:
        return None
    ordered = sorted(specials, key=len, reverse=True)
    return regex.compile("|".join(regex.escape(s) for s in ordered))


def split_on_specials(text: str, specials: Iterable[str]) -> list[str]:
    """The stretches of ordinary text between special tokens (the specials themselves dropped)."""
    finder = special_regex(tuple(specials))
    if finder is None:
        return [text]
    return finder.split(text)


def pretokenize(text: str, pattern: str, specials: Iterable[str] = ()) -> list[str]:
    """All pre-tokens of `text` in order (specials removed)."""
    split = compile_pattern(pattern).findall
    return [piece for segment in split_on_specials(text, specials) for piece in split(segment)]


def count_chunk(args: tuple[str, str, tuple[str, ...]]) -> Counter[str]:
    """Pre-token -> count for one chunk (a top-level function, so worker processes can run it)."""
    text, pattern, specials = args
    split = compile_pattern(pattern).findall
    counts: Counter[str] = Counter()
    for segment in split_on_specials(text, specials):
        counts.update(split(segment))
    return counts


# Where the known patterns always end one pre-token and start the next, whatever text follows:
# after a letter or digit that is followed by whitespace, and after another symbol that is
# followed by whitespace other than a newline (GPT-4's pattern glues newlines to punctuation).
# No alternative of either pattern reads past such a point, so cutting there changes nothing.
_CUT = regex.compile(r"(?r)(?:[\p{L}\p{N}](?=\s)|[^\s\p{L}\p{N}](?=[^\S\r\n]))")


def safe_cut(text: str, specials: Iterable[str] = (), limit: int | None = None) -> int:
    """The last position <= `limit` where cutting `text` changes no pre-token; 0 if none.

    Cutting at a newline is NOT safe in general: "a \\nb" pre-tokenizes as "a", " ", "\\n", "b",
    but "a \\n" alone ends in the piece " \\n". Cutting between "x" and " " is safe (see `_CUT`),
    unless a special token spans the cut, which is checked. Holds for the GPT-2 and GPT-4 patterns.
    """
    specials = tuple(specials)
    finder = special_regex(specials)
    longest = max((len(s) for s in specials), default=0)
    end = len(text) if limit is None else min(len(text), limit + 1)
    while (match := _CUT.search(text, 0, end)) is not None:
        cut = match.end()
        offset = max(0, cut - longest)
        spans = [] if finder is None else finder.finditer(text[offset : cut + longest])
        if not any(offset + m.start() < cut < offset + m.end() for m in spans):
            return cut
        end = match.start() + 1
    return 0


def iter_chunks(
    text_pieces: Iterable[str], specials: Iterable[str] = (), size: int | None = None
) -> Iterator[str]:
    """Re-cut a stream of text into chunks of about `size` (CHUNK_CHARS) characters that end at
    safe cuts."""
    specials = tuple(specials)
    size = size or CHUNK_CHARS
    buffer = ""
    for piece in text_pieces:
        buffer += piece
        while len(buffer) >= size:
            cut = safe_cut(buffer, specials, limit=size)
            if cut == 0:
                break  # no safe place yet: read on
            yield buffer[:cut]
            buffer = buffer[cut:]
    if buffer:
        yield buffer


def read_file_chunks(path: str | Path) -> Iterator[str]:
    """Read a UTF-8 file CHUNK_CHARS characters at a time; a clear error if it is not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise CourseError(f"{path}: the file is empty")
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            while chunk := handle.read(CHUNK_CHARS):
                yield chunk
    except UnicodeDecodeError as error:
        raise CourseError(
            f"{path}: not UTF-8 text (bad byte {error.object[error.start]:#04x})"
        ) from None


def count_pretokens(
    source: str | Iterable[str], pattern: str, specials: Iterable[str] = (), processes: int = 0
) -> Counter[str]:
    """Pre-token -> count over a text (or a stream of text pieces), in parallel when it is big.

    processes: worker processes (0: one per core, at most 2; 1: count in this process). At most
    two chunks per process are in flight, so memory stays bounded whatever the input size.
    """
    specials = tuple(specials)
    pieces = [source] if isinstance(source, str) else source
    chunks = iter_chunks(pieces, specials)
    head = list(itertools.islice(chunks, 2))
    if processes == 0:
        processes = min(2, os.cpu_count() or 1)
    total: Counter[str] = Counter()
    if len(head) < 2 or processes == 1:
        for chunk in itertools.chain(head, chunks):
            total.update(count_chunk((chunk, pattern, specials)))
        return total
    jobs = ((chunk, pattern, specials) for chunk in itertools.chain(head, chunks))
    with ProcessPoolExecutor(processes) as pool:
        in_flight = [pool.submit(count_chunk, job) for job in itertools.islice(jobs, 2 * processes)]
        while in_flight:
            total.update(in_flight.pop(0).result())
            in_flight.extend(pool.submit(count_chunk, job) for job in itertools.islice(jobs, 1))
    return total
