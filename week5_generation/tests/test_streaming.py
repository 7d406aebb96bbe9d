"""Streaming text: split UTF-8 characters and stop strings never show up half-done."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from week5_generation.streaming import (
    StopStrings,
    TextStream,
    Utf8Stream,
    incomplete_tail_length,
    utf8_sequence_length,
)


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


@pytest.mark.parametrize(
    ("lead", "length"),
    [(0x41, 1), (0xC3, 2), (0xE2, 3), (0xF0, 4), (0x80, 0), (0xBF, 0), (0xC0, 0), (0xF5, 0)],
)
def test_utf8_sequence_length_reads_the_lead_byte(lead, length):
    assert utf8_sequence_length(lead) == length


@pytest.mark.task("5.5")
def test_incomplete_tail_length_holds_back_only_unfinished_characters():
    snowman = "☃".encode()  # E2 98 83
    assert incomplete_tail_length(b"ab" + snowman) == 0
    assert incomplete_tail_length(b"ab" + snowman[:1]) == 1
    assert incomplete_tail_length(b"ab" + snowman[:2]) == 2
    assert incomplete_tail_length("😀".encode()[:3]) == 3
    assert incomplete_tail_length(b"a\x80\x80\x80") == 0  # stray continuation bytes: invalid now
    assert incomplete_tail_length(b"\xff") == 0
    assert incomplete_tail_length(b"") == 0


@pytest.mark.task("5.5")
def test_a_character_split_across_pushes_comes_out_whole():
    stream = Utf8Stream()
    pieces = [stream.push(part) for part in (b"caf\xc3", b"\xa9 \xf0\x9f", b"\x98", b"\x80!")]
    assert pieces == ["caf", "é ", "", "😀!"]
    assert stream.flush() == ""


@pytest.mark.task("5.5")
@given(st.text(max_size=30), st.lists(st.integers(min_value=0), max_size=12))
@settings(max_examples=100, deadline=None)
def test_streamed_text_is_exactly_the_text_and_never_holds_a_replacement(text, cuts):
    stream = Utf8Stream()
    pieces = [stream.push(part) for part in cut(text.encode(), cuts)]
    assert "".join(pieces) + stream.flush() == text
    assert all("\ufffd" not in piece for piece in pieces if "\ufffd" not in text)


@pytest.mark.task("5.5")
@given(st.binary(max_size=30), st.lists(st.integers(min_value=0), max_size=12))
@settings(max_examples=100, deadline=None)
def test_any_bytes_stream_to_what_one_decode_gives(data, cuts):
    stream = Utf8Stream()
    streamed = "".join(stream.push(part) for part in cut(data, cuts)) + stream.flush()
    assert streamed == data.decode("utf-8", errors="replace")


@pytest.mark.task("5.5")
def test_flush_replaces_a_character_that_never_finished():
    stream = Utf8Stream()
    assert stream.push(b"ok\xe2\x98") == "ok"
    assert stream.flush() == "\ufffd"


def test_stop_string_cuts_the_text_and_holds_back_its_beginning():
    stops = StopStrings(["\n\n", "THE END"])
    assert stops.push("Hello\n") == "Hello"  # "\n" might start "\n\n"
    assert stops.push("world TH") == "\nworld "
    assert stops.push("E EN") == ""
    assert stops.push("D and more") == ""
    assert stops.stopped
    assert stops.push("ignored") == ""


def test_stop_string_split_over_many_pieces_and_flush_of_a_false_alarm():
    stops = StopStrings(["<stop>"])
    shown = "".join(stops.push(c) for c in "ab<st")
    assert shown == "ab" and not stops.stopped
    assert stops.flush() == "<st"
    stops = StopStrings(["abc", "bd"])
    assert stops.push("xab") == "x"  # "ab" may become "abc"; "b" may become "bd"
    assert stops.push("d!") == "a" and stops.stopped  # "bd" came first


def test_empty_stop_string_is_refused():
    with pytest.raises(ValueError, match="must not be empty"):
        StopStrings([""])


@pytest.mark.task("5.5")
@given(
    st.text(alphabet="ab\n☃", max_size=25),
    st.lists(st.integers(min_value=0), max_size=10),
    st.sampled_from([[], ["\n\n"], ["ab☃"], ["b", "☃☃"]]),
)
@settings(max_examples=100, deadline=None)
def test_text_stream_prints_exactly_the_text_cut_at_the_first_stop(text, cuts, stop):
    stream = TextStream(stop)
    printed = ""
    for part in cut(text.encode(), cuts):
        printed += stream.push(part)
        if stream.stopped:
            break
    printed += stream.finish()
    hits = [text.find(s) for s in stop if s in text]
    expected = text[: min(hits)] if hits else text
    assert printed == expected == stream.text
