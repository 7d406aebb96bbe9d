"""Printing text while it is generated, without ever printing something that later changes.

Two things can be half-finished after a token:

1. A UTF-8 character. Byte-level BPE tokens are byte strings, and a character such as "é"
   (C3 A9) or an emoji (4 bytes) may be split across tokens. Decoding token by token would print
   a replacement character "\ufffd" for each half. `Utf8Stream` holds back the bytes of an
   incomplete character until its last byte arrives.
2. A stop string. If generation stops at "\\n\\n", a single "\\n" might be its first half.
   `StopStrings` holds back any tail that could still grow into a stop string, and cuts the text
   where a stop string appears (the stop string itself is not part of the output).

The invariant both keep: the concatenation of everything they emit equals the text one would get
by decoding all bytes at once (`bytes.decode("utf-8", errors="replace")`), cut at the first stop
string. A replacement character appears only for bytes that can never become valid UTF-8.
"""

from __future__ import annotations

from collections.abc import Sequence


def utf8_sequence_length(lead: int) -> int:
    """How many bytes the UTF-8 character starting with byte `lead` has; 0 if `lead` cannot start
    one (a continuation byte 80-BF, or C0, C1, F5-FF, which never appear in valid UTF-8)."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def incomplete_tail_length(data: bytes) -> int:
    """Length of the unfinished character at the end of `data` (0 if the end is complete).

    Look back over at most 3 bytes for the last byte that is not a continuation byte (10xxxxxx).
    If it starts a character longer than the bytes that follow it, those bytes are held back.
    Cutting just before a lead byte is always safe: a decoder starts a new character there
    whatever came before, so decoding the two parts separately gives the same text.
    """
    # BEGIN TASK 5.5 [Streaming text: never print what might change]: how many bytes to hold back
    for back in range(1, min(3, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte
            needed = utf8_sequence_length(byte)
            return back if needed > back else 0
    return 0
    # END TASK 5.5


class Utf8Stream:
    """Bytes in, text out, holding back the bytes of a character that is not finished yet."""

    def __init__(self) -> None:
        self.pending = b""

    def push(self, data: bytes) -> str:
        """Add bytes; return the text that is final now (possibly "")."""
        self.pending += data
        keep = incomplete_tail_length(self.pending)
        ready = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(self.pending) - keep :]
        return ready.decode("utf-8", errors="replace")

    def flush(self) -> str:
        """The end of the stream: whatever is left, with "\ufffd" for an unfinished character."""
        rest, self.pending = self.pending, b""
        return rest.decode("utf-8", errors="replace")


class StopStrings:
    """Text in, text out; stops at the first stop string and holds back a possible beginning of one.

    After `push` returns, `stopped` tells whether a stop string has appeared; the text before it
    has then been emitted and everything from it on is dropped.
    """

    def __init__(self, stop: Sequence[str] = ()) -> None:
        if any(not s for s in stop):
            raise ValueError("stop strings must not be empty")
        self.stop = tuple(stop)
        self.pending = ""
        self.stopped = False

    def held_back(self, text: str) -> int:
        """The length of the longest tail of `text` that is a proper prefix of a stop string."""
        longest = 0
        for s in self.stop:
            for size in range(min(len(s) - 1, len(text)), longest, -1):
                if text.endswith(s[:size]):
                    longest = size
                    break
        return longest

    def push(self, text: str) -> str:
        """Add text; return what can be shown now."""
        if self.stopped:
            return ""
        self.pending += text
        hits = [i for i in (self.pending.find(s) for s in self.stop) if i >= 0]
        if hits:
            shown, self.pending, self.stopped = self.pending[: min(hits)], "", True
            return shown
        keep = self.held_back(self.pending)
        shown = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(self.pending) - keep :]
        return shown

    def flush(self) -> str:
        """The end of the stream: the held-back text was not a stop string after all."""
        rest, self.pending = self.pending, ""
        return rest


class TextStream:
    """Token bytes in, printable text out: `Utf8Stream` then `StopStrings`.

    `text` is everything emitted so far; after `finish()` it is the final text.
    """

    def __init__(self, stop: Sequence[str] = ()) -> None:
        self.utf8 = Utf8Stream()
        self.stops = StopStrings(stop)
        self.text = ""

    @property
    def stopped(self) -> bool:
        return self.stops.stopped

    def push(self, data: bytes) -> str:
        piece = self.stops.push(self.utf8.push(data))
        self.text += piece
        return piece

    def finish(self) -> str:
        piece = self.stops.push(self.utf8.flush())
        piece += self.stops.flush()
        self.text += piece
        return piece
