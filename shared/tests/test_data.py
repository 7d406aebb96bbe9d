"""Data files: checksums, the mirror, and downloads that never leave a bad file behind."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

import shared.data as data
from shared.data import DataError, corpus_path, fetch, read_text, sha256_of

# The course files: the mirror CI points at, else ../shared/data beside the repository.
SHARED_DATA = Path(
    os.environ.get("COURSE_DATA_MIRROR") or Path(__file__).resolve().parents[3] / "shared" / "data"
).resolve()
real_files = pytest.mark.skipif(
    not (SHARED_DATA / "tinyshakespeare.txt").is_file(),
    reason="needs ../shared/data beside the repo",
)


def _files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@real_files
def test_fetch_from_a_mirror_folder_verifies_and_caches(data_cache, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(SHARED_DATA))
    for name in data.group_files():
        known = data.KNOWN_FILES[name]
        path = fetch(name)
        assert path == data_cache / name
        assert sha256_of(path) == known.sha256
    # A second fetch is served from the cache: the mirror is no longer needed.
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(data_cache / "nowhere"))
    assert fetch("gpt2/vocab.bpe").is_file()


@real_files
def test_fetch_from_a_url_prefix_mirror(data_cache, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", SHARED_DATA.as_uri())
    assert sha256_of(fetch("tinyshakespeare.txt")) == data.KNOWN_FILES["tinyshakespeare.txt"].sha256


@real_files
def test_a_damaged_cached_file_is_fetched_again(data_cache, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(SHARED_DATA))
    target = data_cache / "gpt2" / "vocab.bpe"
    target.parent.mkdir(parents=True)
    target.write_text("damaged")
    assert sha256_of(fetch("gpt2/vocab.bpe")) == data.KNOWN_FILES["gpt2/vocab.bpe"].sha256


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_bad_download_leaves_nothing_behind(data_cache, mirror, damage):
    good = b"First Citizen:\nBefore we proceed any further, hear me speak.\n" * 50
    bad = good[: len(good) // 2] if damage == "truncated" else good.replace(b"hear", b"HEAR")
    (mirror / "tinyshakespeare.txt").write_bytes(bad)
    with pytest.raises(DataError, match="checksum mismatch .* the file was not kept"):
        fetch("tinyshakespeare.txt")
    assert _files_in(data_cache) == []


def test_a_missing_mirror_file_is_named(data_cache, mirror):
    with pytest.raises(DataError, match=r"gpt2/encoder.json: not found in COURSE_DATA_MIRROR"):
        fetch("gpt2/encoder.json")
    assert _files_in(data_cache) == []


def test_no_network_says_what_to_do(data_cache, monkeypatch):
    # Port 9 (discard) on loopback refuses the connection at once: a stand-in for "no network".
    monkeypatch.setenv("COURSE_DATA_MIRROR", "http://127.0.0.1:9/course")
    with pytest.raises(DataError, match="could not download .* set COURSE_DATA_MIRROR"):
        fetch("tinyshakespeare.txt")
    assert _files_in(data_cache) == []


def test_download_writes_through_a_progress_bar(data_cache, mirror, monkeypatch):
    content = b"tiny but real\n" * 1000
    (mirror / "tinyshakespeare.txt").write_bytes(content)
    monkeypatch.setitem(
        data.KNOWN_FILES,
        "tinyshakespeare.txt",
        data.KnownFile("tinyshakespeare.txt", "unused", hashlib.sha256(content).hexdigest()),
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", mirror.as_uri())
    assert fetch("tinyshakespeare.txt").read_bytes() == content


def test_without_a_mirror_the_canonical_address_is_used(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    known = data.KNOWN_FILES["gpt2/vocab.bpe"]
    assert data._source_of(known) == known.url


def test_unknown_names_and_missing_corpora_are_clear(tmp_path):
    with pytest.raises(DataError, match="unknown data file 'x.txt'; known: tinyshakespeare.txt"):
        fetch("x.txt")
    with pytest.raises(DataError, match="no such file"):
        corpus_path(str(tmp_path / "missing.txt"))
    own = tmp_path / "own.txt"
    own.write_text("hello")
    assert corpus_path(str(own)) == own


def test_read_text_rejects_missing_empty_and_non_utf8(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_text(tmp_path / "none.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty.txt: the file is empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(DataError, match="latin1.txt: not UTF-8 text .bad byte at offset 3"):
        read_text(tmp_path / "latin1.txt")


def test_cache_dir_defaults_to_the_repository_data_folder(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert data.cache_dir() == data.REPO_ROOT / "data"
    shutil.rmtree(Path("/nonexistent"), ignore_errors=True)


def test_read_text_keeps_the_bytes_as_they_are(tmp_path):
    """One newline rule for every reader: CRLF stays CRLF, so bits per byte counts real bytes."""
    path = tmp_path / "windows.txt"
    path.write_bytes(b"ROMEO:\r\nO night\r\n\rlone CR\n")
    text = read_text(path)
    assert text == "ROMEO:\r\nO night\r\n\rlone CR\n"
    assert len(text.encode("utf-8")) == path.stat().st_size


def test_make_data_fetches_the_course_files_and_gpt2_weights_only_on_request():
    assert data.group_files() == ["tinyshakespeare.txt", "gpt2/encoder.json", "gpt2/vocab.bpe"]
    weights = data.group_files(data.GPT2_SMALL)
    assert weights == ["gpt2/model.safetensors", "gpt2/config.json"]
    for name in weights:  # one pinned revision of Hugging Face's copy: the checksums stay true
        assert "/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/" in data.KNOWN_FILES[name].url
