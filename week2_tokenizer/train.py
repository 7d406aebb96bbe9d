"""Training byte-level BPE: start from the 256 bytes, merge the most frequent adjacent pair, repeat.

    vocab = {0: b"\\x00", ..., 255: b"\\xff"}
    repeat until the vocabulary is full:
        count every adjacent pair of tokens inside every pre-token (weighted by its frequency)
        (a, b) = the most frequent pair; ties go to the greatest (bytes(a), bytes(b))
        give a + b the next id, and replace every (a, b) by it

Recounting every pair after every merge (the loop above, word for word) is clear and slow: its
cost is merges x corpus. Three facts make it fast without changing one merge:
1. Count over DISTINCT pre-tokens, each with its frequency (Shakespeare: 15k instead of 300k).
2. A merge of (a, b) only changes the pre-tokens that contain (a, b). An index pair -> pre-tokens
   finds them, their pair counts are updated in place, and a heap gives the most frequent pair
   (`PairCounts`, the lesson: it recounts each pre-token it touches).
3. Inside a pre-token, a merge only changes the pairs next to each occurrence of (a, b). An
   index pair -> positions (`PairPositions` in pair_index.py, what `learn_merges` uses) updates
   four counts per occurrence, so a 20 MB pre-token (a file without spaces) costs what its
   occurrences cost, not 20 MB per merge.

Why ties matter: two runs must learn the same merges, and equal counts are common (every pair
seen exactly twice, say). Python's max over a dict would pick by insertion order, which depends on
how the text was chunked; comparing the pairs' bytes makes the result depend on the text alone.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from shared.errors import CourseError
from week2_tokenizer.pair_index import Pair, PairHeap, PairPositions
from week2_tokenizer.pretokenize import check_special_tokens, count_pretokens, read_file_chunks

if TYPE_CHECKING:
    from week2_tokenizer.tokenizer import Tokenizer


class PairCounts(PairHeap):
    """Pair -> count over weighted words, with an index pair -> words and the lazy heap.

    words[i] is one distinct pre-token as a list of token ids, weights[i] how often it occurs.
    where[pair] is the set of words that contain (or once contained) the pair.
    """

    def __init__(self, words: Sequence[bytes], weights: Sequence[int], tokens: list[bytes]) -> None:
        super().__init__(tokens)
        self.words, self.weights = [list(word) for word in words], weights
        self.where: dict[Pair, set[int]] = defaultdict(set)
        # BEGIN TASK 2.2 [The merge loop]: count every word's pairs (times its weight); fill where
        for index, (word, weight) in enumerate(zip(words, weights, strict=True)):
            for pair in pairwise(word):
                self.counts[pair] += weight
                self.where[pair].add(index)
        # END TASK 2.2
        self.build_heap()

    def merge(self, pair: Pair) -> int:
        """Replace `pair` by a new token everywhere; update counts of the touched words only."""
        a, b = pair
        new = self.add_token(a, b)
        counts, where = self.counts, self.where
        grown: set[Pair] = set()
        for index in where.pop(pair):
            word, weight = self.words[index], self.weights[index]
            merged = merge_word(word, a, b, new)
            if len(merged) == len(word):
                continue  # the index is lazy: this word lost the pair in an earlier merge
            for old in pairwise(word):
                counts[old] -= weight
            for fresh in pairwise(merged):
                counts[fresh] += weight
                if new in fresh:
                    where[fresh].add(index)
                    grown.add(fresh)
            self.words[index] = merged
        del counts[pair]
        self.push(grown)
        return new


def merge_word(word: list[int], a: int, b: int, new: int) -> list[int]:
    """Replace each (a, b) in `word`, left to right without overlap, by `new`: a a a -> aa a."""
    # BEGIN TASK 2.3 [The merge loop]: replace each (a, b) in word, left to right, by new
    merged = []
    i, n = 0, len(word)
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            merged.append(new)
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return merged
    # END TASK 2.3


def learn_merges(
    pretoken_counts: Mapping[bytes, int],
    n_merges: int,
    progress: bool = True,
    index: type[PairCounts] | type[PairPositions] = PairPositions,
) -> list[tuple[bytes, bytes]]:
    """The first `n_merges` BPE merges (fewer if no pair is left) of weighted pre-tokens.

    index: what counts the pairs and merges them: `PairPositions` (fast: it updates only around
    each merged occurrence) or `PairCounts` (the lesson's: it recounts each touched word). Both
    learn the same merges.
    """
    tokens = [bytes([b]) for b in range(256)]
    pairs = index(list(pretoken_counts), list(pretoken_counts.values()), tokens)
    # BEGIN TASK 2.4 [The merge loop]: merge the best pair until n_merges are done or none is left
    merges: list[tuple[bytes, bytes]] = []
    with tqdm(total=n_merges, desc="BPE merges", unit="merge", disable=not progress) as bar:
        while len(merges) < n_merges and (pair := pairs.best()) is not None:
            merges.append((tokens[pair[0]], tokens[pair[1]]))
            pairs.merge(pair)
            bar.update()
    return merges
    # END TASK 2.4


def train_bpe(
    source: str | os.PathLike,
    vocab_size: int,
    special_tokens: Iterable[str] = ("<|endoftext|>",),
    pattern: str = "gpt2",
    progress: bool = True,
    processes: int = 0,
) -> Tokenizer:
    """Train a byte-level BPE tokenizer of `vocab_size` tokens = 256 bytes + merges + specials.

    source: the training text (a `str`), or the path of a UTF-8 file (a `Path`), which is read in
        chunks and pre-tokenized by `processes` processes (0: up to 2).
    special_tokens: kept whole, never merged across, not counted; they get the last ids.
    pattern: "gpt2", "gpt4" or a regular expression for the pre-tokenizer.
    If the text runs out of pairs first, the vocabulary is smaller than asked (see
    `require_vocab_size`).
    """
    from week2_tokenizer.tokenizer import Tokenizer

    specials = list(dict.fromkeys(special_tokens))
    check_special_tokens(specials)
    if vocab_size < 256 + len(specials):
        raise CourseError(
            f"vocab_size {vocab_size} is too small: it must be at least 256 bytes + "
            f"{len(specials)} special token(s) = {256 + len(specials)}"
        )
    text_pieces: str | Iterable[str]  # the whole text, or a file's text in chunks
    if isinstance(source, os.PathLike):
        text_pieces = read_file_chunks(Path(source))
    else:
        if not source:
            raise CourseError("the training text is empty")
        text_pieces = source
    counts = count_pretokens(text_pieces, pattern, specials, processes=processes)
    pretoken_counts = {piece.encode("utf-8"): n for piece, n in counts.items()}
    merges = learn_merges(pretoken_counts, vocab_size - 256 - len(specials), progress)
    return Tokenizer.from_merges(merges, specials, pattern)


def require_vocab_size(tokenizer: Tokenizer, vocab_size: int, knob: str, trained_on: str) -> None:
    """Refuse a tokenizer smaller than the `vocab_size` its `knob` asked for. BPE stops when no
    pair is left to merge: every pre-token of the training text is then a single token."""
    if tokenizer.vocab_size < vocab_size:
        raise CourseError(
            f"{knob} {vocab_size} is more than {trained_on} gives: it runs out of pairs to merge "
            f"at {tokenizer.vocab_size} tokens (every pre-token is then a single token); ask for "
            f"at most {tokenizer.vocab_size}, or train on more text"
        )
