"""Encoding pre-tokens: apply the learned merges in the order they were learned.

The rule (GPT-2's): among the adjacent pairs of the current tokens, take the one whose merge was
learned first (lowest rank); replace all its occurrences, left to right; repeat until no pair
has a merge. `merge_simple` does exactly that. It rescans the piece after every merge, so a piece
of n bytes costs up to n^2 steps: fine for words, hopeless for 1 MB with no space in it.

`merge_heap` gives the same tokens in O(n log n): the tokens form a linked list, and a heap
holds (rank, position) for every pair that has a merge. Popping the heap gives the lowest rank,
leftmost first, which is the order the simple loop merges in; entries whose pair has changed
since they were pushed are skipped. Merging two tokens only creates pairs with their neighbours,
and those are pushed. (A merge made from token t is always learned after t, so a new pair never
has a lower rank than the one just merged.)

Encoding a text needs the ids of thousands of distinct pre-tokens of a few bytes each, and then
the cost is Python's, a few microseconds per merge. `merge_batch` merges them all at once with
numpy: each round looks up every adjacent pair of every piece in one call (`SortedPairs`) and
merges each piece's lowest-rank pair. Same rule, same ids, a few times faster.

Long pieces are cut into parts that merge alone (`pieces.py`), so memory follows a window.
"""

from __future__ import annotations

import heapq
from itertools import chain, pairwise

import numpy as np

# (left id, right id) -> (rank, id of the merged token)
MergeTable = dict[tuple[int, int], tuple[int, int]]

LONG_PIECE = 48  # bytes (characters, for the cache): from here on cut in parts, not rescanned


def merge_simple(ids: list[int], table: MergeTable) -> list[int]:
    """Apply merges to `ids` by repeatedly merging the lowest-rank pair (quadratic, clear).

    Each round looks every adjacent pair up (`map` and `min` run the loop in C, which is what
    makes a cold cache affordable) and merges the leftmost occurrence of the best pair; the
    next round finds its other occurrences, so this equals GPT-2's left-to-right sweep.
    """
    # BEGIN TASK 2.5 [The merge loop]: merge the lowest-rank pair until no pair has a merge
    ids = list(ids)
    get = table.get
    while len(ids) > 1:
        entries = list(map(get, pairwise(ids)))  # (rank, merged id) or None for each pair
        best = min(filter(None, entries), default=None)
        if best is None:
            break
        i = entries.index(best)
        ids[i : i + 2] = [best[1]]
    return ids
    # END TASK 2.5


def merge_heap(ids: list[int], table: MergeTable) -> list[int]:
    """The same result as `merge_simple`, in O(n log n) with a linked list and a heap.

    A heap entry (rank, position) is packed into one int, rank << 32 | position: ints are not
    tracked by Python's garbage collector, and a million tracked tuples would make it crawl.
    """
    n = len(ids)
    tokens = list(ids)  # tokens[i] = -1 once position i has been merged into its left neighbour
    after = list(range(1, n + 1))  # next live position (n: none)
    before = list(range(-1, n - 1))  # previous live position (-1: none)
    heap = [table[pair][0] << 32 | i for i, pair in enumerate(pairwise(ids)) if pair in table]
    heapq.heapify(heap)
    get, pop, push, mask = table.get, heapq.heappop, heapq.heappush, (1 << 32) - 1
    while heap:
        packed = pop(heap)
        rank, i = packed >> 32, packed & mask
        j = after[i]
        if tokens[i] < 0 or j >= n:
            continue
        entry = get((tokens[i], tokens[j]))
        if entry is None or entry[0] != rank:
            continue  # stale: this position's pair changed after the entry was pushed
        tokens[i] = entry[1]
        tokens[j] = -1
        after[i] = k = after[j]
        if k < n:
            before[k] = i
            right = get((tokens[i], tokens[k]))
            if right is not None:
                push(heap, right[0] << 32 | i)
        h = before[i]
        if h >= 0:
            left = get((tokens[h], tokens[i]))
            if left is not None:
                push(heap, left[0] << 32 | h)
    return [t for t in tokens if t >= 0]


class SortedPairs:
    """The merge table as sorted arrays, so that numpy looks up a million pairs in one call.

    The pair (left, right) is the number left * width + right (width: more than any id). `keys`
    holds those numbers in increasing order, and `np.searchsorted` finds where each query would
    go: the pair has a merge if the key found there is the query itself. Pairs of ids below 256
    (the bytes, in most tokenizers: all of a first round) are read from a 256 x 256 table.
    """

    def __init__(self, table: MergeTable, width: int) -> None:
        # the pairs and their (rank, merged id) flattened by `chain` (a loop in C), then cut in 2
        n = len(table)
        pairs = np.fromiter(chain.from_iterable(table), np.int64, 2 * n).reshape(n, 2)
        values = np.fromiter(chain.from_iterable(table.values()), np.int64, 2 * n).reshape(n, 2)
        keys = pairs[:, 0] * width + pairs[:, 1]
        order = np.argsort(keys)
        self.width = width
        self.no_rank = int(values[:, 0].max(initial=-1)) + 1  # above every rank: "no merge"
        # the last slot, a key no pair can equal, answers every miss
        self.keys = np.append(keys[order], np.iinfo(np.int64).max)
        self.ranks = np.append(values[order, 0], self.no_rank)
        self.merged = np.append(values[order, 1], -1)
        # the 256 x 256 table: each merge of two ids below 256 written at left * 256 + right
        small = (pairs[:, 0] < 256) & (pairs[:, 1] < 256)
        at = pairs[small, 0] * 256 + pairs[small, 1]
        self.small_ranks = np.full(256 * 256, self.no_rank, dtype=np.int64)
        self.small_merged = np.full(256 * 256, -1, dtype=np.int64)
        self.small_ranks[at], self.small_merged[at] = values[small, 0], values[small, 1]
        # one Python int per id, shared: a list of a million ids then holds a million pointers,
        # not a million new ints of 32 bytes each (`tolist` makes new ones)
        self.id_objects = list(range(width))

    def lookup(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rank, merged id) of each pair (left[i], right[i]); rank `no_rank` where none."""
        if len(left) and max(left.max(), right.max()) < 256:
            small = left * 256 + right
            return self.small_ranks[small], self.small_merged[small]
        return self._search(left, right)

    def _search(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`np.searchsorted` is faster on queries in increasing order (each search starts where
        the one before ended, on keys still in the cache), so the queries are sorted first and
        the answers put back in place: 13 -> 8 ms, the sort included, for the 170,000 lookups of
        a cold GPT-2 encoding of tiny shakespeare."""
        query = left * self.width + right
        order = np.argsort(query)
        at = np.empty_like(order)
        at[order] = np.searchsorted(self.keys, query[order])
        at[self.keys[at] != query] = len(self.keys) - 1
        return self.ranks[at], self.merged[at]


def merge_batch(ids: np.ndarray, lengths: np.ndarray, pairs: SortedPairs) -> list[tuple[int, ...]]:
    """Merge many pieces at once, each by `merge_simple`'s rule. `ids` holds all the pieces' ids
    one after another, `lengths` how many ids each piece has; each piece's ids come back as a
    tuple (cheaper than a list to keep in a cache and to join).

    rank[i] is the rank of the pair (ids[i], ids[i + 1]), "no merge" where that pair straddles two
    pieces. A round scores every pair rank * n + position, so that a piece's smallest score is its
    lowest-rank pair, the leftmost of equals (`np.minimum.reduceat` takes it piece by piece). A
    piece whose best pair has no merge is done and leaves the arrays; every other merges that
    pair, and only the two pairs beside each merge are looked up again.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    piece = np.flatnonzero(lengths)  # the input index of each piece still in the arrays
    finished: list[tuple[int, ...]] = [() for _ in range(len(lengths) - len(piece))]  # empty
    order = [np.flatnonzero(lengths == 0)]  # the input index of each finished piece
    lengths, ids, no_rank = lengths[piece], np.array(ids, dtype=np.int64), pairs.no_rank
    rank, merged = pairs.lookup(ids[:-1], ids[1:])
    rank, merged = np.append(rank, no_rank), np.append(merged, -1)
    rank[np.cumsum(lengths) - 1] = no_rank  # the last id of each piece has no pair
    while len(piece):
        n, starts = len(ids), np.cumsum(lengths) - lengths
        best = np.minimum.reduceat(rank * n + np.arange(n), starts)
        done = best >= no_rank * n
        if done.any():
            flat = tuple(map(pairs.id_objects.__getitem__, ids[np.repeat(done, lengths)].tolist()))
            ends = np.cumsum(lengths[done])
            finished += map(flat.__getitem__, map(slice, (ends - lengths[done]).tolist(), ends))
            order.append(piece[done])
        at = best[~done] % n  # where each remaining piece merges
        ids[at] = merged[at]
        keep = np.repeat(~done, lengths)
        keep[at + 1] = False
        at = np.cumsum(keep)[at] - 1  # where the merged ids are once the others are gone
        ids, rank, merged = ids[keep], rank[keep], merged[keep]
        piece, lengths = piece[~done], lengths[~done] - 1
        rank[at] = no_rank  # a merged id that ends its piece has no pair
        starts = np.cumsum(lengths) - lengths
        _look_again(ids, rank, merged, at[at + 1 < starts + lengths], pairs)  # merged, next
        _look_again(ids, rank, merged, at[at > starts] - 1, pairs)  # previous, merged
    return list(map(finished.__getitem__, np.argsort(np.concatenate(order)).tolist()))


def _look_again(
    ids: np.ndarray, rank: np.ndarray, merged: np.ndarray, at: np.ndarray, pairs: SortedPairs
) -> None:
    """Look up the pairs (ids[i], ids[i + 1]) for each i in `at` again, in place."""
    rank[at], merged[at] = pairs.lookup(ids[at], ids[at + 1])
