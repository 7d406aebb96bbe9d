"""The data structures behind the fast merge loop: a heap of pair counts, and pair positions.

`PairHeap` finds the most frequent pair, ties to the greatest (bytes(a), bytes(b)): a max-heap
over the counts whose stale entries are fixed only when they reach the top (a lazy heap).

`PairPositions` knows WHERE each pair occurs, so a merge touches only the merged occurrences
and their two neighbours. Merging (a, b) at one occurrence, with `left` before it and `right`
after it, changes four counts by the word's frequency:

    left a b right  ->  left ab right:   (left, a) and (b, right) go down,
                                         (left, ab) and (ab, right) go up

All other pairs keep their counts. So one merge costs its occurrences, not the length of the
words it touches: a 20 MB pre-token (a file without whitespace) costs what Shakespeare does.
"""

from __future__ import annotations

import heapq
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import partial
from itertools import pairwise, repeat

Pair = tuple[int, int]
GAP = -2  # the id of the slot between two words: no pair crosses it
GONE = -1  # the id of a slot whose token was merged into its left neighbour


def descending_key(token: bytes) -> tuple[int, ...]:
    """A key that sorts byte strings in REVERSE lexicographic order (heapq is a min-heap).

    Each byte b becomes 255 - b, and an end marker 256 (larger than any of those) makes a prefix
    sort after the longer string, so key(b"ab") < key(b"a") just as b"ab" > b"a".
    """
    return (*(255 - b for b in token), 256)


class PairHeap:
    """Pair -> count, and a heap that gives the most frequent pair.

    The heap holds (-count, key(a), key(b), a, b) entries; an entry is stale when its count is
    no longer the pair's count, and stale entries are fixed when they reach the top.

    A pair's count never grows after the merge that made it, and most pairs made late are rare:
    pushed, they would fill the heap and never be chosen. So a count of n binary digits waits in
    `waiting[n]` while `level` is higher than n; once the heap holds no pair of at least `level`
    digits, the level goes down by one and the pairs waiting there join the heap.
    """

    def __init__(self, tokens: list[bytes]) -> None:
        self.tokens = tokens
        self.keys = [descending_key(t) for t in tokens]
        self.counts: dict[Pair, int] = defaultdict(int)
        self.heap: list[tuple] = []
        self.level = 0
        self.waiting: list[list[Pair]] = []

    def build_heap(self) -> None:
        """Put every pair counted so far into the heap."""
        self.heap = [self._entry(pair, count) for pair, count in self.counts.items()]
        heapq.heapify(self.heap)
        self.level = max(self.counts.values(), default=0).bit_length()
        self.waiting = [[] for _ in range(self.level)]

    def _entry(self, pair: Pair, count: int) -> tuple:
        a, b = pair
        return (-count, self.keys[a], self.keys[b], a, b)

    def push(self, pairs: Iterable[Pair]) -> None:
        """Add pairs just made (a count that goes down later is fixed when it reaches the top)."""
        counts, level, waiting = self.counts, self.level, self.waiting
        for pair in pairs:
            digits = counts[pair].bit_length()
            if digits >= level:
                heapq.heappush(self.heap, self._entry(pair, counts[pair]))
            else:
                waiting[digits].append(pair)

    def best(self) -> Pair | None:
        """The most frequent pair, ties to the greatest (bytes, bytes); None if none is left."""
        while True:
            pair = self.top()
            if pair is not None and self.counts[pair].bit_length() >= self.level:
                return pair
            if self.level <= 1:
                return None  # the heap is empty, and no count of 1 or more waits below level 1
            self.level -= 1  # a waiting pair may beat the heap's top: let the next level in
            self.push(pair for pair in self.waiting.pop() if self.counts.get(pair, 0) > 0)

    def top(self) -> Pair | None:
        """The pair at the top of the heap, after fixing the stale entries found there."""
        while self.heap:
            negative, _, _, a, b = self.heap[0]
            current = self.counts.get((a, b), 0)
            if current == -negative:
                return (a, b)
            heapq.heappop(self.heap)  # stale: the count went down since this entry was pushed
            if current > 0:
                heapq.heappush(self.heap, self._entry((a, b), current))
        return None

    def add_token(self, a: int, b: int) -> int:
        """Give the merge of a and b the next id."""
        self.tokens.append(self.tokens[a] + self.tokens[b])
        self.keys.append(descending_key(self.tokens[-1]))
        return len(self.tokens) - 1


class PairPositions(PairHeap):
    """Pair counts that change only around each merged occurrence.

    Every distinct word lies in one array of slots, one byte a slot, with a GAP slot before,
    between and after the words. A token that covers slots i..k-1 has its id in its first slot
    i and its last slot k-1 (its inner slots are GONE), so both neighbours are one step away:
    the right one starts at k = i + len(token), the left one ends at i - 1 and starts at
    i - len(left). `where[pair]` lists the first slots of the pair's occurrences, and maybe of
    former ones: each is checked when it is used. `weight[i]` is the count of slot i's word.
    `array` holds 4 bytes an int (1 for a small weight); a list of ints takes 8 plus the ints.
    """

    def __init__(self, words: Sequence[bytes], weights: Sequence[int], tokens: list[bytes]) -> None:
        super().__init__(tokens)
        self.lengths = [len(token) for token in tokens]
        self.ids = ids = array("i", [GAP])
        self.weight = array(smallest_typecode(max(weights, default=0)), [0])
        self.where: dict[Pair, array] = defaultdict(partial(array, "i"))
        where = self.where
        for word, weight in zip(words, weights, strict=True):
            start = len(ids)
            ids.extend(word)
            ids.append(GAP)
            self.weight.extend(repeat(weight, len(word) + 1))
            for i, pair in enumerate(pairwise(word), start):
                where[pair].append(i)
        weight_at = self.weight.__getitem__
        for pair, slots in where.items():
            self.counts[pair] = sum(map(weight_at, slots))  # each slot once, by its word's count
        self.build_heap()

    def occurrences(self, pair: Pair) -> Iterable[int]:
        """The first slots of `pair`'s occurrences, in order when a == b: "a a a" is merged to
        "aa a", so the left one of two overlapping occurrences must come first."""
        slots = self.where.pop(pair, array("i"))
        return sorted(slots) if pair[0] == pair[1] else slots

    def merge(self, pair: Pair) -> int:
        """Replace `pair` by a new token at each of its occurrences; update the counts around."""
        a, b = pair
        new = self.add_token(a, b)
        ids, weight, counts, lengths = self.ids, self.weight, self.counts, self.lengths
        length_a, length = lengths[a], lengths[a] + lengths[b]
        lengths.append(length)
        made: dict[Pair, array] = defaultdict(partial(array, "i"))  # the new pairs' first slots
        for i in self.occurrences(pair):
            j, k = i + length_a, i + length  # where b starts, where the token after b starts
            if ids[i] != a or ids[j] != b:
                continue  # not there any more: merged into another token since
            left, right, w = ids[i - 1], ids[k], weight[i]
            if left != GAP:
                counts[left, a] -= w
                fresh = (left, new)
                counts[fresh] += w
                made[fresh].append(i - lengths[left])
            if right != GAP:
                counts[b, right] -= w
                fresh = (new, right)
                counts[fresh] += w
                made[fresh].append(i)
            ids[j - 1] = ids[j] = GONE  # a's last slot and b's first are inside the new token
            ids[i] = ids[k - 1] = new
        del counts[pair]
        self.where.update(made)
        self.push(fresh for fresh in made if counts[fresh] > 0)
        return new


def smallest_typecode(largest: int) -> str:
    """The `array` typecode of the smallest unsigned int (1, 2, 4 or 8 bytes) holding `largest`."""
    return next(code for code in "BHIQ" if largest < 1 << (8 * array(code).itemsize))
