"""Speaker attribution: a fine-tuning data set made from the course corpus itself.

Each example asks who speaks a speech of tiny shakespeare:

    prompt      "Who says this?\\n\\nNow, go thy ways; thou hast tamed a curst shrew."
    completion  "HORTENSIO"

The corpus is a run of blocks separated by a blank line, each block a name line ("PETRUCHIO:")
and the lines of one speech. The one fact that makes the set honest is *where* the examples
come from. The course's base models trained on the first 90% of the characters
(`week1_setup.split`), so the held-out examples are taken from the end of the last 10%, text
the base model never saw, and every training example comes from before them:

    | base model's training text (90%) | validation (10%) ...... | held-out region |
    |<------------------- training examples ------------------>|<-- held out -->|

The validation part is mostly The Taming of the Shrew, but the corpus ends with the opening of
The Tempest, whose characters speak nowhere earlier. The held-out region is therefore measured
in the speeches of speakers already heard before the validation part: it holds the last
`held_out_fraction` of those. (Counted over all speeches, it would be mostly Tempest, whose
speakers have no training examples, and almost no Shrew.) Only speakers with at least
`min_speeches` examples on both sides become labels, so the held-out region's Tempest speeches
are simply not examples.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.atomic import atomic_write_text
from shared.data import corpus_path, read_text
from shared.errors import CourseError
from week1_setup.split import split_text

CORPUS = "tinyshakespeare.txt"
TRAIN_FILE = "speakers-train.jsonl"
HELD_OUT_FILE = "speakers-val.jsonl"

QUESTION = "Who says this?\n\n"

# 10, not 20: the Shrew characters have 10 to 57 speeches each in the held-out region, and 20
# would leave only PETRUCHIO and KATHARINA. 10 keeps nine labels, each scored on 10 or more.
MIN_SPEECHES = 10
# 220 characters: with the course's 1024-token BPE (about 2 characters a token here), any speech
# of the corpus cut to 220, with the question, its speaker's name and the chat template's 5
# tokens (jsonl.py, template.py), is at most 127 tokens: it fits a 128-token context. At 300,
# 406 of the 6,382 usable speeches would not (up to 161 tokens).
MAX_CHARS = 220
MIN_CHARS = 20  # "Ay, sir." says nothing about who is speaking
HELD_OUT_FRACTION = 0.4

_NAME_LINE = re.compile(r"([A-Z][A-Za-z0-9' .,&-]*):")
_BLOCK = re.compile(r"(?:[^\n]+(?:\n|\Z))+")  # a run of non-empty lines


@dataclass(frozen=True)
class Speech:
    """One block of the corpus: who speaks, what they say (exactly as written), and where.

    `start` is the offset of the name line in the corpus, so
    `corpus[speech.start:speech.end] == f"{speech.speaker}:\\n{speech.text}"`
    (just `"NAME:"` for a name line with no speech under it, which the corpus has 125 of).
    """

    speaker: str
    text: str
    start: int

    @property
    def end(self) -> int:
        """The offset just past the speech's last character."""
        return self.start + len(self.speaker) + 1 + (len(self.text) + 1 if self.text else 0)


@dataclass
class SpeakerSet:
    """The fine-tuning set: examples on either side of the held-out region, and its figures.

    `train` and `held_out` are lists of {"prompt": ..., "completion": ...} in corpus order (shuffle
    the training examples before training on them); `labels` are the speakers that occur, the
    most frequent in training first; `counts` holds the numbers the summary reports.
    """

    train: list[dict[str, str]]
    held_out: list[dict[str, str]]
    labels: list[str]
    counts: dict[str, int]


# ---------------------------------------------------------------- reading the corpus


def _blocks(text: str) -> Iterator[tuple[int, str]]:
    """(offset, block) for each run of non-empty lines, without its final line break."""
    for match in _BLOCK.finditer(text):
        yield match.start(), match.group().rstrip("\n")


def _speech_of(start: int, block: str) -> Speech | None:
    """The block as a Speech, or None when its first line is not a name line ("NAME:")."""
    first, _, rest = block.partition("\n")
    name = _NAME_LINE.fullmatch(first)
    return Speech(name.group(1), rest, start) if name else None


def speeches(text: str) -> list[Speech]:
    """Every block of `text` that starts with a name line, in order; other blocks are skipped."""
    found = (_speech_of(start, block) for start, block in _blocks(text))
    return [speech for speech in found if speech is not None]


def unnamed_blocks(text: str) -> int:
    """How many blocks of `text` do not start with a name line (what `speeches` skips)."""
    return sum(_speech_of(start, block) is None for start, block in _blocks(text))


# ---------------------------------------------------------------- one example


def cut_speech(text: str, max_chars: int) -> str:
    """`text` if it has at most `max_chars` characters, else its longest prefix of whole lines
    that does; a first line longer than that is cut at `max_chars` itself."""
    if len(text) <= max_chars:
        return text
    line_break = text.rfind("\n", 0, max_chars + 1)
    return text[:line_break] if line_break > 0 else text[:max_chars]


def prompt_for(text: str) -> str:
    """The question the model answers with a speaker's name."""
    return QUESTION + text


def example(speaker: str, text: str) -> dict[str, str]:
    """One fine-tuning example: the question about `text`, answered by `speaker`."""
    return {"prompt": prompt_for(text), "completion": speaker}


# ---------------------------------------------------------------- the set


def held_out_start(all_speeches: Sequence[Speech], validation_start: int, fraction: float) -> int:
    """Where the held-out region begins: the start of the speech that leaves `fraction` of the
    validation part's speeches by already-heard speakers (those who speak before
    `validation_start`) from there to the end."""
    heard = {s.speaker for s in all_speeches if s.start < validation_start}
    later = [s for s in all_speeches if s.start >= validation_start and s.speaker in heard]
    if not later:
        raise CourseError(
            "no speech in the validation part (the last 10% of the corpus) is by a speaker who "
            "also speaks before it, so there is nothing to hold out"
        )
    return later[-max(1, round(fraction * len(later)))].start


def _usable(
    part: Sequence[Speech], max_chars: int, min_chars: int, unseen_in: str | None = None
) -> list[tuple[str, str]]:
    """(speaker, text) of each speech of `part` that makes an example: cut to `max_chars`, at
    least `min_chars` long, and (when `unseen_in` is given) not occurring anywhere in it."""
    kept = []
    for speech in part:
        text = cut_speech(speech.text, max_chars)
        if len(text) >= min_chars and (unseen_in is None or text not in unseen_in):
            kept.append((speech.speaker, text))
    return kept


def choose_labels(
    train_counts: Mapping[str, int], held_out_counts: Mapping[str, int], min_speeches: int
) -> list[str]:
    """The speakers with at least `min_speeches` examples on both sides, the most frequent in
    training first (ties by name)."""
    chosen = [
        name
        for name, count in train_counts.items()
        if count >= min_speeches and held_out_counts.get(name, 0) >= min_speeches
    ]
    return sorted(chosen, key=lambda name: (-train_counts[name], name))


def _check_options(min_speeches: int, max_chars: int, min_chars: int, fraction: float) -> None:
    if min_speeches < 1:
        raise CourseError(f"min_speeches = {min_speeches}: must be at least 1")
    if not 0 <= min_chars <= max_chars:
        raise CourseError(
            f"min_chars = {min_chars}, max_chars = {max_chars}: need 0 <= min_chars <= max_chars"
        )
    if not 0 < fraction < 1:
        raise CourseError(f"held_out_fraction = {fraction}: must be between 0 and 1 (exclusive)")


def _outcome_counts(
    label_speeches: Sequence[Speech], region_start: int, text: str, max_chars: int, min_chars: int
) -> dict[str, int]:
    """How many of the labels' speeches were cut, dropped as too short, or dropped from the
    held-out side because their text also occurs before the region."""
    cut = short = seen = 0
    earlier = text[:region_start]
    for speech in label_speeches:
        kept = cut_speech(speech.text, max_chars)
        cut += kept != speech.text
        short += len(kept) < min_chars
        seen += len(kept) >= min_chars and speech.start >= region_start and kept in earlier
    return {"cut": cut, "dropped_short": short, "dropped_seen": seen}


def build_speaker_set(
    text: str,
    *,
    min_speeches: int = MIN_SPEECHES,
    max_chars: int = MAX_CHARS,
    min_chars: int = MIN_CHARS,
    held_out_fraction: float = HELD_OUT_FRACTION,
) -> SpeakerSet:
    """Speaker-attribution examples from a corpus `text`; the same text always gives the same set.

    A held-out speech whose (cut) text also occurs before the held-out region, a common "I
    will, my lord." say, is dropped: the point of the region is text the model has not seen.
    """
    _check_options(min_speeches, max_chars, min_chars, held_out_fraction)
    every = speeches(text)
    validation_start = len(split_text(text)[0])
    region_start = held_out_start(every, validation_start, held_out_fraction)
    before = [s for s in every if s.start < region_start]
    after = [s for s in every if s.start >= region_start]
    train_pool = _usable(before, max_chars, min_chars)
    held_out_pool = _usable(after, max_chars, min_chars, unseen_in=text[:region_start])
    labels = choose_labels(
        Counter(name for name, _ in train_pool),
        Counter(name for name, _ in held_out_pool),
        min_speeches,
    )
    if not labels:
        raise CourseError(
            f"no speaker has {min_speeches} usable speeches both before the held-out region and "
            "in it; lower min_speeches or raise held_out_fraction"
        )
    chosen = set(labels)
    train = [example(name, speech) for name, speech in train_pool if name in chosen]
    held_out = [example(name, speech) for name, speech in held_out_pool if name in chosen]
    counts = {
        "speeches": len(every),
        "unnamed_blocks": unnamed_blocks(text),
        "validation_start": validation_start,
        "held_out_start": region_start,
        "train": len(train),
        "held_out": len(held_out),
        **_outcome_counts(
            [s for s in every if s.speaker in chosen], region_start, text, max_chars, min_chars
        ),
    }
    return SpeakerSet(train, held_out, labels, counts)


def majority_baseline(
    train_labels: Sequence[str], held_out_labels: Sequence[str]
) -> tuple[str, float]:
    """The score to beat: always answer the most frequent training label (the first by name on
    a tie). Returns that label and the fraction of held-out labels it gets right."""
    if not train_labels or not held_out_labels:
        raise CourseError("majority baseline: needs at least one training and one held-out label")
    counts = Counter(train_labels)
    label = min(counts, key=lambda name: (-counts[name], name))
    return label, sum(answer == label for answer in held_out_labels) / len(held_out_labels)


# ---------------------------------------------------------------- files and the command


def write_jsonl(path: str | Path, examples: Sequence[Mapping[str, str]]) -> None:
    """One JSON object {"prompt", "completion"} per line, UTF-8 as written, atomically."""
    lines = (
        json.dumps({"prompt": item["prompt"], "completion": item["completion"]}, ensure_ascii=False)
        + "\n"
        for item in examples
    )
    atomic_write_text(path, "".join(lines))


def summary_table(speaker_set: SpeakerSet, max_chars: int, min_chars: int) -> str:
    """The labels with their example counts, the totals, what was cut or dropped, the baseline."""
    train = Counter(item["completion"] for item in speaker_set.train)
    held_out = Counter(item["completion"] for item in speaker_set.held_out)
    width = max(len("total"), *(len(name) for name in speaker_set.labels))
    rows = [f"{'label':<{width}}  {'train':>6}  {'held-out':>8}"]
    rows += [f"{n:<{width}}  {train[n]:>6}  {held_out[n]:>8}" for n in speaker_set.labels]
    rows.append(f"{'total':<{width}}  {len(speaker_set.train):>6}  {len(speaker_set.held_out):>8}")
    counts = speaker_set.counts
    label, accuracy = majority_baseline(
        [item["completion"] for item in speaker_set.train],
        [item["completion"] for item in speaker_set.held_out],
    )
    rows += [
        f"held-out region: characters {counts['held_out_start']:,} to the end "
        f"(the validation part starts at {counts['validation_start']:,})",
        f"the labels' speeches: {counts['cut']} cut to {max_chars} characters, "
        f"{counts['dropped_short']} dropped (under {min_chars} characters), "
        f"{counts['dropped_seen']} held-out dropped (text also found before the region)",
        f"majority baseline: always {label}, {accuracy:.1%} of held-out",
    ]
    return "\n".join(rows)


def sft_data_command(
    out_dir: Path,
    *,
    overwrite: bool = False,
    corpus: str = CORPUS,
    min_speeches: int = MIN_SPEECHES,
    max_chars: int = MAX_CHARS,
    min_chars: int = MIN_CHARS,
    held_out_fraction: float = HELD_OUT_FRACTION,
) -> int:
    """Build the set from `corpus`, write `speakers-train.jsonl` and `speakers-val.jsonl` into
    `out_dir` (never over existing files unless `overwrite`), and print the summary."""
    targets = (Path(out_dir) / TRAIN_FILE, Path(out_dir) / HELD_OUT_FILE)
    for target in targets:
        if target.exists() and not overwrite:
            raise CourseError(f"{target}: already exists; make sft-data OVERWRITE=1 replaces it")
    speaker_set = build_speaker_set(
        read_text(corpus_path(corpus)),
        min_speeches=min_speeches,
        max_chars=max_chars,
        min_chars=min_chars,
        held_out_fraction=held_out_fraction,
    )
    write_jsonl(targets[0], speaker_set.train)
    write_jsonl(targets[1], speaker_set.held_out)
    print(summary_table(speaker_set, max_chars, min_chars))
    print(f"wrote {targets[0]} ({len(speaker_set.train)} examples)")
    print(f"wrote {targets[1]} ({len(speaker_set.held_out)} examples)")
    return 0
