"""Pre-tokens -> ids, fast: many short ones in one batch, a long one in parts that merge alone.

The theorem everything here rests on: if a point between two bytes of a piece is a boundary of
the piece's final tokens, the tokens left of it are those of the left part encoded alone, and
likewise on the right. (No merge crossed the point, so each side saw exactly the merges it would
have seen alone, in the same order.) A long piece is therefore cut, wherever a point is sure
never to be crossed, into parts encoded one by one, and memory follows a part, not the piece.
Two ways to be sure:

1. Junctions. A merge joins the last byte of its left token to the first byte of its right
   token. If no merge has the bytes (a, b) at its junction, nothing ever joins an a to the b
   after it. In a megabyte of "abc...xyz" GPT-2 has such a point every 20 bytes at most.
2. Spines. A run with a merge at every junction ("aaaa...", digits, DNA) is merged a window at a
   time (`merge_heap`), and a boundary of the window's tokens is checked (`is_final`) before the
   tokens left of it are kept; the rest is merged again with the next window. Where no boundary
   passes the check ("0000...", "abab..."), the window grows, and then the run is merged whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from itertools import chain, pairwise

import numpy as np

from week2_tokenizer.merge import (
    LONG_PIECE,
    MergeTable,
    SortedPairs,
    merge_batch,
    merge_heap,
    merge_simple,
)

WINDOW = 1 << 16  # bytes of a long piece cut at junctions at a time
RUN_WINDOW = 1 << 13  # bytes of a run without junction cuts merged by the heap at a time
BATCH = 1 << 14  # pieces merged together by `merge_batch` at most
FEW = 100  # fewer new pieces than this are merged one by one: numpy's cost per call would dominate


def junctions(merges: Sequence[tuple[bytes, bytes]]) -> np.ndarray:
    """joins[a, b]: some merge joins a left token ending in byte a to a right one starting in b."""
    joins = np.zeros((256, 256), dtype=bool)
    for left, right in merges:
        joins[left[-1], right[0]] = True
    return joins


def split_at_junctions(data: bytes, joins: np.ndarray) -> Iterator[list[bytes]]:
    """The parts of `data` between the points no merge can cross, about WINDOW bytes at a time.

    A part that no such point ends within its window runs on to the next point, however far."""
    array = np.frombuffer(data, dtype=np.uint8)
    start = 0
    while start < len(data):
        view = array[start : start + WINDOW + 1]
        cuts = (start + 1 + np.flatnonzero(~joins[view[:-1], view[1:]])).tolist()
        if start + WINDOW >= len(data):
            end = len(data)
        elif cuts:
            end = cuts.pop()  # the window's last part may go on: it starts the next window
        else:
            end = _next_cut(array, start + WINDOW, joins)
        yield [data[a:b] for a, b in pairwise([start, *cuts, end])]
        start = end


def _next_cut(array: np.ndarray, start: int, joins: np.ndarray) -> int:
    """The first point after `start` that no merge can cross, or the end of `array`."""
    while start < len(array):
        view = array[start - 1 : start + WINDOW]
        cuts = np.flatnonzero(~joins[view[:-1], view[1:]])
        if len(cuts):
            return start + int(cuts[0])
        start += WINDOW
    return len(array)


class Spines:
    """What `is_final` needs: for each merged token, its right part and the rank that made it.

    Only for a table where every merge is learned after the merges that made its two tokens and
    every token is made by one merge (so a token's history is its own): trained tokenizers and
    GPT-2's. For any other table `usable` is False and runs are merged whole.
    """

    def __init__(self, table: MergeTable, vocab: Sequence[bytes], specials: Sequence[int]) -> None:
        self.table = table
        self.made = {merged: (right, rank) for (_, right), (rank, merged) in table.items()}
        made_at = {merged: rank for merged, (_, rank) in self.made.items()}
        self.usable = len(self.made) == len(table) and all(
            made_at.get(left, -1) < rank and made_at.get(right, -1) < rank
            for (left, right), (rank, _) in table.items()
        )
        skip = set(specials)
        self.token_ids = {token: i for i, token in enumerate(vocab) if i not in skip}
        self.longest = max(map(len, self.token_ids), default=1)
        self.length = [len(token) for token in vocab]

    def is_final(self, data: bytes, cut: int, last: int) -> bool:
        """Whether the point `cut` of `data`, where a window's token `last` ends, is a boundary
        of the final tokens of all of `data` from the window's start.

        Until a merge first crosses the cut, the left side merges as it did in the window, so the
        token ending at the cut was in turn a byte, ..., right(right(last)), right(last), last:
        the right spine of `last`, each one replaced when the merge making the next one came. A
        crossing merge joins one of them to a token that starts at the cut (a token whose bytes
        begin `data[cut:]`) and must come while that one is still there: ranked before the merge
        that replaced it. No such merge in the table, no crossing, ever."""
        token_ids, table = self.token_ids, self.table
        longest = min(self.longest, len(data) - cut)
        starting = [token_ids.get(data[cut : cut + k]) for k in range(1, longest + 1)]
        right_tokens = [token for token in starting if token is not None]
        spine, replaced_at = last, 1 << 62
        while True:
            for right in right_tokens:
                merge = table.get((spine, right))
                if merge is not None and merge[0] < replaced_at:
                    return False
            if spine not in self.made:
                return True
            spine, replaced_at = self.made[spine]

    def merge_run(self, data: bytes, byte_ids: Sequence[int], out: list[int]) -> None:
        """Append the tokens of a run to `out`, merging RUN_WINDOW bytes at a time: the tokens
        before the last final boundary of a window are kept, the rest is merged again. A window
        without one doubles, three times; then the rest of the run is merged whole."""
        start, window = 0, RUN_WINDOW
        while True:
            end = len(data) if window > 8 * RUN_WINDOW else min(len(data), start + window)
            tokens = merge_heap([byte_ids[b] for b in data[start:end]], self.table)
            if end == len(data):
                out.extend(tokens)
                return
            kept = self._final_prefix(data, start, tokens)
            if kept:
                out.extend(tokens[:kept])
                start += sum(map(self.length.__getitem__, tokens[:kept]))
                window = RUN_WINDOW
            else:
                window *= 2

    def _final_prefix(self, data: bytes, start: int, tokens: list[int]) -> int:
        """How many of a window's tokens end at a final boundary, trying the latest first."""
        cut = start + sum(map(self.length.__getitem__, tokens))
        for kept in range(len(tokens) - 1, max(0, len(tokens) - 65), -1):
            cut -= self.length[tokens[kept]]
            if self.is_final(data, cut, tokens[kept - 1]):
                return kept
        return 0


class PieceEncoder:
    """Pre-tokens (as UTF-8 bytes) -> ids, by the merge table's rule, built once per tokenizer:
    one short piece by `merge_simple`, many by `merge_batch`, a long one in parts.

    What only long pieces need (`joins`, `spines`) is built the first time one comes: ordinary
    text has none, and for GPT-2 the two take 28 ms, a sixth of the 170 ms that a cold encoding
    of tiny shakespeare took while they were built with the rest (2-core Xeon, idle).
    """

    def __init__(
        self,
        table: MergeTable,
        byte_ids: Sequence[int],
        merges: Sequence[tuple[bytes, bytes]],
        vocab: Sequence[bytes],
        specials: Mapping[str, int],
    ) -> None:
        self.table = table
        self.byte_ids = list(byte_ids)
        self.byte_id_array = np.array(byte_ids, dtype=np.int64)
        self.pairs = SortedPairs(table, len(vocab))
        self._merges, self._vocab, self._specials = merges, vocab, list(specials.values())

    @cached_property
    def joins(self) -> np.ndarray:
        """The junctions some merge can cross (`junctions`), for cutting long pieces."""
        return junctions(self._merges)

    @cached_property
    def spines(self) -> Spines:
        """What deciding a final boundary in a run needs (`Spines`), for merging long runs."""
        return Spines(self.table, self._vocab, self._specials)

    def encode(self, data: bytes) -> list[int]:
        """The ids of one piece."""
        if len(data) < LONG_PIECE:
            byte_ids = self.byte_ids
            return merge_simple([byte_ids[b] for b in data], self.table)
        out: list[int] = []
        self.encode_long(data, out)
        return out

    def encode_many(self, pieces: Sequence[bytes]) -> list[tuple[int, ...]]:
        """The ids of each of many short pieces, BATCH pieces per `merge_batch`."""
        if len(pieces) < FEW:
            return [tuple(self.encode(piece)) for piece in pieces]
        results: list[tuple[int, ...]] = []
        for first in range(0, len(pieces), BATCH):
            batch = pieces[first : first + BATCH]
            lengths = np.fromiter(map(len, batch), np.int64, len(batch))
            ids = self.byte_id_array[np.frombuffer(b"".join(batch), dtype=np.uint8)]
            results += merge_batch(ids, lengths, self.pairs)
        return results

    def encode_long(self, data: bytes, out: list[int]) -> None:
        """Append the ids of a long piece to `out`: its parts between junctions that no merge has,
        the short ones of a window merged together, each long one as a run."""
        ids_of: dict[bytes, Sequence[int]] = {}  # parts repeat: "abc...z" is 26 parts over and over
        for parts in split_at_junctions(data, self.joins):
            if len(ids_of) > BATCH:
                ids_of.clear()
            new = [part for part in dict.fromkeys(parts) if part not in ids_of]
            if max(map(len, new), default=0) < LONG_PIECE:
                ids_of.update(zip(new, self.encode_many(new), strict=True))
                out.extend(chain.from_iterable(map(ids_of.__getitem__, parts)))
                continue
            short = [part for part in new if len(part) < LONG_PIECE]
            ids_of.update(zip(short, self.encode_many(short), strict=True))
            for part in parts:
                if len(part) < LONG_PIECE:
                    out.extend(ids_of[part])
                else:
                    self._encode_run(part, out)

    def _encode_run(self, data: bytes, out: list[int]) -> None:
        if self.spines.usable:
            self.spines.merge_run(data, self.byte_ids, out)
        else:
            out.extend(merge_heap([self.byte_ids[b] for b in data], self.table))
