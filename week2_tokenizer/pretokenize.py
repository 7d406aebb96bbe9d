"""Pre-tokenization: cut text into the pieces that BPE merges inside, never across.

Merging freely across a whole text would learn tokens like "dog." and "dog!" as unrelated words,
and tokens that glue the end of one word to the start of the next. So text is first cut by a
regular expression into pre-tokens (a word with its leading space, a run of digits, a run of
punctuation, a run of whitespace) and merges happen only inside one pre-token. Special tokens
such as "<|endoftext|>" are cut out before that: no merge ever crosses one.

The pieces must join back to the text, or encoding would silently drop what no piece covers;
`split_pretokens` checks that on every call. A pattern is a program, and one read from a
tokenizer file is not trusted as one: only the named patterns run freely, any other must pass
`check_pattern` and runs under a time limit, since a pattern like `(a+)+$` takes minutes.

Training only needs how often each distinct pre-token occurs (Shakespeare's 300,000 pre-tokens
are only 15,000 distinct strings), so that is what `count_pretokens` returns. Big inputs are
read in chunks cut where pre-tokenization cannot change (see `safe_cut`) and counted by several
processes.
"""

from __future__ import annotations

import codecs
import itertools
import os
import re
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
# GPT-4's: tiktoken's cl100k_base pattern, character for character. Case-insensitive
# contractions, digits in groups of at most 3, punctuation keeps its trailing newlines, a word may
# start with one non-letter symbol, and whitespace at the very end of a text is one piece (`\s++$`).
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}
# What runs in place of a pattern: the same pieces, found faster. GPT-2's with its letters first
# (most pieces are words) and each optional space spelled out as two alternatives, with the space
# and without, which the engine tells apart by their first character alone. An alternation takes
# the first alternative that matches, so only alternatives that can start with the same character
# keep GPT-2's order: a contraction before punctuation ("'s", not "'"), and a space with what
# follows it before a run of whitespace. No piece changes
# (`test_the_fast_form_of_gpt2_cuts_the_same_pieces`), and tiny shakespeare is cut in 15% less
# time (77 ms, GPT-2's own order 90; idle 2-core Xeon).
_P = r"[^\s\p{L}\p{N}]"  # anything else: punctuation, symbols, control characters
GPT2_FAST = (
    rf" \p{{L}}+|\p{{L}}+|'s|'t|'re|'ve|'m|'ll|'d|{_P}+| {_P}+|\p{{N}}+| \p{{N}}+|\s+(?!\S)|\s+"
)
FAST_FORMS = {GPT2_PATTERN: GPT2_FAST}
TRUSTED = frozenset(PATTERNS.values()) | {GPT2_FAST}  # run without a time limit: the course knows

# On text that is all ASCII (a flag Python keeps, so `str.isascii` reads nothing) GPT-2's classes
# are ranges, and Python's own `re` runs the fast form spelled with them in about half the time
# `regex` takes (41 ms on tiny shakespeare; `test_gpt2_ascii_form_cuts_the_same_pieces`).
_L, _N, _S = "A-Za-z", "0-9", r"\t\n\x0b\x0c\r "  # \p{L}, \p{N} and \s, within ASCII
_ASCII_P = f"[^{_S}{_L}{_N}]"
GPT2_ASCII = (
    rf" [{_L}]+|[{_L}]+|'s|'t|'re|'ve|'m|'ll|'d|{_ASCII_P}+| {_ASCII_P}+|[{_N}]+| [{_N}]+"
    rf"|[{_S}]+(?![^{_S}])|[{_S}]+"
)
ASCII_FORMS = {GPT2_FAST: re.compile(GPT2_ASCII)}

CHUNK_CHARS = 1 << 20  # read and count big inputs one mebi-character at a time

# Any other pattern gets 1 s plus 10 microseconds a character (GPT-2's pattern needs about 0.25),
# and must first cut these probes in time: ordinary text, then long runs of one class followed by
# another, on which a backtracking pattern such as `(a+)+$` explodes.
SECONDS_PER_CHAR = 1e-5
PROBES = (
    "It's 12,345 o'clock...\r\n\n\t  Hello,  WORLD!? naïve 日本語 😀 x\u00a0y \n",
    "a" * 5000 + "!",
    "1" * 5000 + "!",
    " " * 5000 + "x",
    "." * 5000 + "a",
)


def resolve_pattern(pattern: str) -> str:
    """A pattern name ("gpt2", "gpt4") or a regular expression -> the regular expression."""
    return PATTERNS.get(pattern, pattern)


def _shown(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 60 else pattern[:57] + "...")


@lru_cache(maxsize=16)
def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile a split pattern: a named one, or a regular expression that passes `check_pattern`."""
    expression = resolve_pattern(pattern)
    try:
        compiled = regex.compile(FAST_FORMS.get(expression, expression))
    except regex.error as error:
        raise CourseError(
            f"pre-tokenizer pattern {_shown(pattern)} is not a valid regex ({error})"
        ) from None
    if expression not in TRUSTED:
        check_pattern(compiled)
    return compiled


def check_pattern(compiled: regex.Pattern) -> None:
    """Refuse a pattern that is not a usable pre-tokenizer: one with capturing groups (findall
    would return the groups, not the pieces), one that is too slow on a probe, or one whose
    pieces of a probe do not join back to it."""
    if compiled.groups:
        raise CourseError(
            f"pre-tokenizer pattern {_shown(compiled.pattern)} has capturing groups; "
            "allowed: gpt2, gpt4, or a pattern with only (?:...) groups"
        )
    for probe in PROBES:
        split_pretokens(compiled, probe)


def split_pretokens(compiled: regex.Pattern, text: str) -> list[str]:
    """The pieces of `text` under a compiled pattern; they always join back to `text`."""
    limit = None if compiled.pattern in TRUSTED else 1.0 + len(text) * SECONDS_PER_CHAR
    ascii_form = ASCII_FORMS.get(compiled.pattern)
    try:
        if ascii_form is not None and text.isascii():
            pieces = ascii_form.findall(text)
        else:
            pieces = compiled.findall(text, timeout=limit)
    except TimeoutError:
        raise CourseError(
            f"pre-tokenizer pattern {_shown(compiled.pattern)} took over {limit:.1f} s on "
            f"{len(text)} characters (it backtracks); allowed: gpt2, gpt4, or a pattern that "
            "cuts text in linear time"
        ) from None
    covered = len("".join(pieces))  # the pieces are in order and never overlap
    if covered != len(text):
        raise CourseError(
            f"pre-tokenizer pattern {_shown(compiled.pattern)} covers {covered} of the "
            f"{len(text)} characters of its input, so encoding would drop text; allowed: gpt2, "
            "gpt4, or a pattern whose pieces join back to the text"
        )
    return pieces


def check_special_tokens(specials: Iterable[str]) -> None:
    """A special token is a non-empty string: an empty one would match between every byte."""
    for special in specials:
        if not isinstance(special, str) or not special:
            raise CourseError(
                f"special token {special!r}: a special token must be a non-empty string"
            )


@lru_cache(maxsize=16)
def special_regex(specials: tuple[str, ...]) -> regex.Pattern | None:
    """One regex matching any special token; longer ones are tried first, so the longest wins."""
    if not specials:
        return None
    check_special_tokens(specials)
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
    compiled = compile_pattern(pattern)
    return [
        piece
        for segment in split_on_specials(text, specials)
        for piece in split_pretokens(compiled, segment)
    ]


def count_chunk(args: tuple[str, str, tuple[str, ...]]) -> Counter[str]:
    """Pre-token -> count for one chunk (a top-level function, so worker processes can run it)."""
    text, pattern, specials = args
    compiled = compile_pattern(pattern)
    counts: Counter[str] = Counter()
    for segment in split_on_specials(text, specials):
        counts.update(split_pretokens(compiled, segment))
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


def not_utf8(source: str | Path, error: UnicodeDecodeError, offset: int) -> CourseError:
    """The one line for text that is not UTF-8: where, and the first bad byte's offset."""
    bad = error.object[error.start]
    return CourseError(f"{source}: not UTF-8 text (bad byte {bad:#04x} at byte offset {offset})")


def decode_utf8(data: bytes, source: str | Path) -> str:
    """`data` as UTF-8 text, every byte as it is (a CRLF stays a CRLF)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise not_utf8(source, error, error.start) from None


def read_file_chunks(path: str | Path) -> Iterator[str]:
    """Read a UTF-8 file about CHUNK_CHARS bytes at a time, every byte as it is (no newline
    translation); a clear error naming the byte offset if it is not UTF-8.

    A block can end inside a character; the incremental decoder keeps those bytes for the next
    block, so the error's offset counts from where the decoder's buffer starts in the file."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise CourseError(f"{path}: the file is empty")
    decoder = codecs.getincrementaldecoder("utf-8")()
    read = 0  # bytes of the file passed to the decoder so far

    def decode(block: bytes, final: bool = False) -> str:
        held = len(decoder.getstate()[0])  # the start of a character cut by the last block
        try:
            return decoder.decode(block, final=final)
        except UnicodeDecodeError as error:
            raise not_utf8(path, error, read - held + error.start) from None

    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_CHARS):
            text = decode(block)
            read += len(block)
            if text:
                yield text
    decode(b"", final=True)  # a character cut off by the end of the file


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
