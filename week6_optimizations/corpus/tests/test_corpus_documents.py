"""documents.py and split.py: which files are read, how, and which side each document lands on."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import CourseError
from week6_optimizations.corpus.documents import (
    decode,
    documents_in,
    find_files,
    kind_of,
    normalise_newlines,
    read_bytes,
)
from week6_optimizations.corpus.split import is_validation, text_sha256


def test_a_folder_gives_its_readable_files_recursively_and_sorted(tmp_path):
    for name in ["b.txt", "a.md", "sub/c.jsonl", "sub/d.txt.gz", "e.pdf", "f.txt.bak", "G.TXT"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    names = [p.relative_to(tmp_path).as_posix() for p in find_files(str(tmp_path))]
    assert names == ["G.TXT", "a.md", "b.txt", "sub/c.jsonl", "sub/d.txt.gz"]


def test_a_file_and_a_glob(tmp_path):
    for name in ["one.txt", "two.txt", "three.md"]:
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert find_files(str(tmp_path / "one.txt")) == [tmp_path / "one.txt"]
    assert find_files(str(tmp_path / "*.txt")) == [tmp_path / "one.txt", tmp_path / "two.txt"]
    assert find_files(str(tmp_path / "**" / "*.md")) == [tmp_path / "three.md"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "DATA= is empty"),
        ("{tmp}/missing", "no such file or folder"),
        ("{tmp}/empty", "the folder holds no .txt, .md or .jsonl"),
        ("{tmp}/nothing*.txt", "the pattern matches no file"),
        ("{tmp}/*.pdf", "the pattern matches no .txt, .md or .jsonl"),
        ("{tmp}/paper.pdf", "not a .txt, .md or .jsonl"),
    ],
)
def test_nothing_to_read_is_one_line_naming_data(tmp_path, data, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "paper.pdf").write_bytes(b"%PDF")
    data = data.format(tmp=tmp_path)
    with pytest.raises(CourseError, match=message) as error:
        find_files(data)
    assert f"DATA={data}" in str(error.value) and "\n" not in str(error.value)


def test_gzip_is_read_through_and_a_damaged_one_is_named(tmp_path):
    good = tmp_path / "a.md.gz"
    with gzip.open(good, "wb") as handle:
        handle.write("café\n".encode())
    assert kind_of(good) == ".md" and decode(good) == "café\n"
    bad = tmp_path / "b.txt.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(CourseError, match="b.txt.gz: not a readable gzip file"):
        read_bytes(bad)


def test_a_file_that_is_not_utf8_is_none_never_half_read(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("good start, then é".encode("latin-1"))
    assert decode(path) is None


def test_jsonl_lines_are_documents_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "d.jsonl"
    lines = [json.dumps({"text": "one\r\ntwo", "id": 1}), "", json.dumps({"text": "three"})]
    text = "\n".join(lines) + "\n"
    documents = list(documents_in(path, text))
    assert [d.text for d in documents] == ["one\ntwo", "three"]
    assert [d.source for d in documents] == [f"{path}:1", f"{path}:3"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"title": "no text"}', 'no "text" field'),
        ("[1, 2]", 'no "text" field'),
        ('{"text": 3}', '"text" is int, not a string'),
        ("{not json", "not a JSON line"),
    ],
)
def test_a_bad_jsonl_line_is_named_by_file_and_line(tmp_path, line, message):
    path = tmp_path / "d.jsonl"
    text = json.dumps({"text": "fine"}) + "\n" + line + "\n"
    with pytest.raises(CourseError, match=message) as error:
        list(documents_in(path, text))
    assert str(error.value).startswith(f"{path}:2: ")


@given(st.text(alphabet=st.sampled_from(["a", "b", "\n", "\r", " ", "é"])))
def test_the_newline_rule_leaves_only_lf_and_keeps_lf_text_as_it_is(text):
    normal = normalise_newlines(text)
    assert "\r" not in normal
    assert normalise_newlines(normal) == normal
    assert normal.count("\n") == text.count("\n") + text.count("\r") - text.count("\r\n")
    if "\r" not in text:
        assert normal == text


def test_windows_and_unix_copies_of_a_text_are_the_same_document(tmp_path):
    unix, windows = tmp_path / "u.txt", tmp_path / "w.txt"
    unix.write_bytes(b"one\ntwo\n")
    windows.write_bytes(b"one\r\ntwo\r\n")
    (a,) = documents_in(unix, decode(unix) or "")
    (b,) = documents_in(windows, decode(windows) or "")
    assert a.text == b.text and text_sha256(a.text) == text_sha256(b.text)


def test_the_split_is_the_documents_own_hash_and_near_its_fraction():
    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(20_000)]
    share = sum(is_validation(sha, 0.05) for sha in shas) / len(shas)
    assert 0.045 < share < 0.055
    # the rule reads the hash alone: a larger fraction only adds documents to validation
    assert all(is_validation(s, 0.2) for s in shas if is_validation(s, 0.05))
    assert is_validation("0" * 64, 1e-9) and not is_validation("f" * 64, 0.999)
