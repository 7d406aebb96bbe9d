"""Encoding one pre-token: apply the learned merges in the order they were learned.

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
"""

from __future__ import annotations

import heapq
from itertools import pairwise

# (left id, right id) -> (rank, id of the merged token)
MergeTable = dict[tuple[int, int], tuple[int, int]]

NO_MERGE = (1 << 62, -1)
LONG_PIECE = 48  # tokens; from here on the heap is faster than rescanning


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


def merge_piece(ids: list[int], table: MergeTable) -> list[int]:
    """Apply merges to one pre-token's byte ids, choosing the faster method for its length."""
    if len(ids) < LONG_PIECE:
        return merge_simple(ids, table)
    return merge_heap(ids, table)
