"""The speaker-attribution set: parsing, cutting, where the held-out examples come from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.data import cache_dir, read_text
from shared.errors import CourseError
from week1_setup.split import split_text
from week5_generation.finetune.speakers import (
    CORPUS,
    HELD_OUT_FILE,
    QUESTION,
    TRAIN_FILE,
    Speech,
    build_speaker_set,
    cut_speech,
    example,
    majority_baseline,
    sft_data_command,
    speeches,
    unnamed_blocks,
    write_jsonl,
)

SHARED_DATA = Path(
    os.environ.get("COURSE_DATA_MIRROR") or Path(__file__).resolve().parents[3] / "shared" / "data"
).resolve()


def corpus_of(blocks: list[tuple[str, str]]) -> str:
    """Blocks in the corpus's own format: "NAME:\\n<speech>\\n", a blank line between blocks."""
    return "\n".join(f"{name}:\n{text}\n" for name, text in blocks)


def numbered(n: int = 100, **replaced: str) -> str:
    """n speeches, ALPHA and OMEGA by turns, each 44 characters with its blank line, so speech i
    starts at 44 * i. `s<i>="..."` replaces the text of speech i."""
    blocks = []
    for i in range(n):
        name = ("ALPHA", "OMEGA")[i % 2]
        text = replaced.get(f"s{i}", f"Speech number {i:03d}, spoken by {name}.")
        blocks.append((name, text))
    return corpus_of(blocks)


def speech_text(item: dict[str, str]) -> str:
    return item["prompt"].removeprefix(QUESTION)


# ---------------------------------------------------------------- parsing


def test_speeches_keep_names_with_spaces_multiline_text_and_offsets():
    corpus = (
        "First Servant:\nHere, sir.\nAnd more.\n\n"
        "KING RICHARD II:\nNo.\n\n\n"  # two blank lines, as before Romeo and Juliet
        "a block with no name line\nis skipped\n\n"
        "TITUS:\n\n"  # a name line with no speech, as the corpus has 125 times
        "Ghost of CLARENCE:\nLet me sit heavy on thy soul to-morrow!\n"
    )
    assert speeches(corpus) == [
        Speech("First Servant", "Here, sir.\nAnd more.", 0),
        Speech("KING RICHARD II", "No.", 37),
        Speech("TITUS", "", 98),
        Speech("Ghost of CLARENCE", "Let me sit heavy on thy soul to-morrow!", 106),
    ]
    assert unnamed_blocks(corpus) == 1
    assert [corpus[s.start : s.end] for s in speeches(corpus)[1:3]] == [
        "KING RICHARD II:\nNo.",
        "TITUS:",
    ]


names = st.from_regex(r"[A-Z][A-Za-z' -]{0,12}", fullmatch=True)
lines = st.text(st.characters(blacklist_characters="\n", blacklist_categories=["Cs"]), min_size=1)


@given(st.lists(st.tuples(names, st.lists(lines, min_size=1, max_size=4).map("\n".join))))
def test_speeches_read_back_every_block_as_written(blocks):
    corpus = corpus_of(blocks)
    found = speeches(corpus)
    assert [(s.speaker, s.text) for s in found] == blocks
    assert all(corpus[s.start : s.end] == f"{s.speaker}:\n{s.text}" for s in found)
    assert unnamed_blocks(corpus) == 0


# ---------------------------------------------------------------- cutting


def test_a_long_speech_is_cut_at_the_last_line_break_that_fits():
    assert cut_speech("aaaa\nbbbb\ncccc", 12) == "aaaa\nbbbb"
    assert cut_speech("aaaa\nbbbb\ncc", 9) == "aaaa\nbbbb"  # the break right at max_chars counts
    assert cut_speech("abcdefghij", 4) == "abcd"  # no line break: cut at max_chars
    assert cut_speech("aaaa\nbbbb", 9) == "aaaa\nbbbb"  # short enough: unchanged


@given(st.text(st.sampled_from("ab \n")), st.integers(1, 30))
def test_cutting_keeps_a_prefix_of_whole_lines_within_max_chars(text, max_chars):
    cut = cut_speech(text, max_chars)
    assert len(cut) <= max_chars and text.startswith(cut)
    assert (cut == text) == (len(text) <= max_chars)
    if cut != text and "\n" in text[1 : max_chars + 1]:
        assert text[len(cut)] == "\n" and "\n" not in text[len(cut) + 1 : max_chars + 1]


# ---------------------------------------------------------------- the set


def test_the_held_out_region_is_the_end_of_the_validation_part():
    # 100 speeches of 44 characters: 4399 in all, the validation part starts at int(0.9 * 4399)
    # = 3959, so it holds speeches 90-99, and the last 40% of them, 96-99, are held out.
    corpus = numbered()
    speaker_set = build_speaker_set(corpus, min_speeches=2)
    assert speaker_set.held_out == [
        example(name, f"Speech number {i:03d}, spoken by {name}.")
        for i, name in [(96, "ALPHA"), (97, "OMEGA"), (98, "ALPHA"), (99, "OMEGA")]
    ]
    assert [speech_text(item) for item in speaker_set.train] == [
        s.text for s in speeches(corpus)[:96]
    ]
    assert speaker_set.labels == ["ALPHA", "OMEGA"]  # 48 each: a tie, broken by name
    assert speaker_set.counts == {
        "speeches": 100,
        "unnamed_blocks": 0,
        "validation_start": 3959,
        "held_out_start": 96 * 44,
        "train": 96,
        "held_out": 4,
        "cut": 0,
        "dropped_short": 0,
        "dropped_seen": 0,
    }


def test_cut_short_and_already_seen_speeches_are_counted():
    cut = build_speaker_set(numbered(), min_speeches=2, max_chars=20)
    assert cut.counts["cut"] == 100
    assert speech_text(cut.held_out[0]) == "Speech number 096, s"

    short = build_speaker_set(numbered(s5="Ay."), min_speeches=2)
    assert (short.counts["dropped_short"], short.counts["train"]) == (1, 95)

    # Speech 97 (held out) says what speech 1 said: the model has seen it, so it is no test.
    seen = build_speaker_set(numbered(s97=numbered().split("\n")[4]), min_speeches=1)
    assert seen.counts["dropped_seen"] == 1
    assert [item["completion"] for item in seen.held_out] == ["ALPHA", "ALPHA", "OMEGA"]


def test_a_speaker_needs_min_speeches_on_both_sides_to_be_a_label():
    with pytest.raises(CourseError, match="no speaker has 3 usable speeches"):
        build_speaker_set(numbered(), min_speeches=3)  # each has only 2 held-out speeches


@pytest.mark.parametrize(
    "options, message",
    [
        ({"min_speeches": 0}, "min_speeches = 0"),
        ({"min_chars": 30, "max_chars": 20}, "min_chars = 30, max_chars = 20"),
        ({"held_out_fraction": 1.0}, "held_out_fraction = 1.0"),
    ],
)
def test_bad_options_are_one_clear_error(options, message):
    with pytest.raises(CourseError, match=message):
        build_speaker_set(numbered(), **options)


speaker_turns = st.lists(st.sampled_from(["ALPHA", "OMEGA", "Second Gentleman"]), min_size=30)


@settings(max_examples=30, deadline=None)
@given(speaker_turns, st.floats(0.05, 0.95))
def test_train_and_held_out_are_disjoint_and_every_answer_is_a_label(turns, fraction):
    corpus = corpus_of(
        [(name, f"{name} speaks, and this is speech {i}.") for i, name in enumerate(turns)]
    )
    try:
        speaker_set = build_speaker_set(corpus, min_speeches=1, held_out_fraction=fraction)
    except CourseError:
        assume(False)
    start = speaker_set.counts["held_out_start"]
    assert start >= len(split_text(corpus)[0])
    assert speaker_set.held_out and all(
        corpus.find(speech_text(i)) >= start for i in speaker_set.held_out
    )
    assert all(corpus.find(speech_text(i)) < start for i in speaker_set.train)
    everything = speaker_set.train + speaker_set.held_out
    assert {item["completion"] for item in everything} == set(speaker_set.labels)
    assert build_speaker_set(corpus, min_speeches=1, held_out_fraction=fraction) == speaker_set


# ---------------------------------------------------------------- the baseline


def test_the_majority_baseline_breaks_ties_by_name():
    assert majority_baseline(["B", "A", "B", "A", "C"], ["A", "B", "A"]) == ("A", 2 / 3)
    assert majority_baseline(["C", "C", "A"], ["C", "A", "A", "B"]) == ("C", 0.25)
    with pytest.raises(CourseError, match="majority baseline"):
        majority_baseline(["A"], [])


# ---------------------------------------------------------------- files


def test_write_jsonl_round_trips_and_keeps_non_ascii_text(tmp_path):
    examples = [example("JULIET", "Café, naïve, ☃.\nO Romeo!"), example("First Servant", "Ay.")]
    path = tmp_path / "set.jsonl"
    write_jsonl(path, examples)
    assert "☃" in path.read_text(encoding="utf-8")
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == examples
    assert os.listdir(tmp_path) == ["set.jsonl"]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.builds(example, st.text(), st.text())))
def test_write_jsonl_writes_one_object_per_line(tmp_path, examples):
    path = tmp_path / "set.jsonl"
    write_jsonl(path, examples)
    lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines: U+2028 is no line end
    assert lines[-1] == "" and [json.loads(line) for line in lines[:-1]] == examples


def test_the_command_writes_both_files_and_never_overwrites_unasked(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(numbered(), encoding="utf-8")
    out = tmp_path / "sft"
    assert sft_data_command(out, corpus=str(corpus), min_speeches=2) == 0
    printed = capsys.readouterr().out
    assert "majority baseline: always ALPHA, 50.0% of held-out" in printed
    assert printed.splitlines()[:4] == [
        "label   train  held-out",
        "ALPHA      48         2",
        "OMEGA      48         2",
        "total      96         4",
    ]
    held_out = [json.loads(line) for line in (out / HELD_OUT_FILE).read_text().splitlines()]
    assert [item["completion"] for item in held_out] == ["ALPHA", "OMEGA", "ALPHA", "OMEGA"]

    (out / TRAIN_FILE).unlink()
    (out / HELD_OUT_FILE).write_text("mine\n")  # one of the two is enough to refuse
    with pytest.raises(CourseError, match=f"{HELD_OUT_FILE}: already exists"):
        sft_data_command(out, corpus=str(corpus), min_speeches=2)
    assert (out / HELD_OUT_FILE).read_text() == "mine\n" and not (out / TRAIN_FILE).exists()
    assert sft_data_command(out, corpus=str(corpus), min_speeches=2, overwrite=True) == 0
    assert (out / HELD_OUT_FILE).read_text().count("\n") == 4


# ---------------------------------------------------------------- the course corpus


def course_corpus() -> str:
    for folder in (SHARED_DATA, cache_dir()):
        if (folder / CORPUS).is_file():
            return read_text(folder / CORPUS)
    pytest.skip("needs tinyshakespeare.txt (make data, or ../shared/data beside the repo)")


def test_the_course_corpus_gives_shrew_labels_held_out_from_unseen_text():
    corpus = course_corpus()
    speaker_set = build_speaker_set(corpus)
    base_training_text = split_text(corpus)[0]
    assert len(speaker_set.labels) >= 5 and speaker_set.train and speaker_set.held_out
    assert not any(speech_text(item) in base_training_text for item in speaker_set.held_out)
    # The figures the defaults give (the corpus is pinned by its checksum).
    assert speaker_set.labels == [
        "PETRUCHIO",
        "TRANIO",
        "KATHARINA",
        "BAPTISTA",
        "GRUMIO",
        "GREMIO",
        "HORTENSIO",
        "LUCENTIO",
        "BIONDELLO",
    ]
    assert (len(speaker_set.train), len(speaker_set.held_out)) == (429, 187)
