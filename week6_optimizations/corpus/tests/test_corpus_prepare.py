"""prepare.py end to end: what is kept, where it goes, and that the shards hold exactly it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared.config import config_from_dict
from shared.data import prepared_dir
from shared.errors import CourseError
from week2_tokenizer import Tokenizer
from week6_optimizations.corpus import prepare as pipeline
from week6_optimizations.corpus.manifest import Manifest
from week6_optimizations.corpus.prepare import prepare
from week6_optimizations.corpus.split import is_validation, text_sha256
from week6_optimizations.corpus.tests.corpora import document, write_documents


def config(*overrides: str, kind: str = "bytes"):
    values = {"tokenizer": {"kind": kind}, "prepare": {"val_fraction": 0.2, "min_chars": 64}}
    return config_from_dict(values, overrides)


def documents_of(folder, split: str) -> list[str]:
    """The texts in a split's shards, cut at the end-of-text token, in order."""
    manifest = Manifest.read(folder)
    tokenizer = Tokenizer.load(folder / "tokenizer.json")
    dtype = np.dtype(manifest.document["dtype"])
    stream = np.concatenate(
        [np.fromfile(folder / r.file, dtype=dtype) for r in manifest.shards(split)]
    ).tolist()
    cuts = [i for i, token in enumerate(stream) if token == tokenizer.eot_id] + [len(stream)]
    return [tokenizer.decode(stream[a + 1 : b]) for a, b in zip(cuts, cuts[1:], strict=False)]


def test_each_kept_document_is_in_its_hashs_split_once(tmp_path, cache):
    data = tmp_path / "data"
    texts = write_documents(data, range(40))
    texts += write_documents(data / "more", range(40, 60), kind="jsonl")
    (data / "copy.txt").write_text(texts[3], encoding="utf-8")  # an exact duplicate
    (data / "windows.md").write_bytes(texts[4].replace("\n", "\r\n").encode())  # the same text
    (data / "short.txt").write_text("too short", encoding="utf-8")
    (data / "photo.txt").write_bytes(bytes(range(256)))  # not UTF-8
    folder = prepare(str(data), "mixed", config("prepare.shard_tokens=2048"), progress=False)

    manifest = Manifest.read(folder).document
    assert manifest["files"] == {
        "read": 45,
        "not_utf8": [str(data / "photo.txt")],
        "documents": 63,
        "short": 1,
        "duplicates": 2,
    }
    val = [t for t in texts if is_validation(text_sha256(t), 0.2)]
    train = [t for t in texts if t not in val]
    assert 0 < len(val) < len(train)
    assert sorted(documents_of(folder, "train")) == sorted(train)
    assert sorted(documents_of(folder, "val")) == sorted(val)
    splits = manifest["splits"]
    assert splits["val"]["bytes"] == sum(len(t.encode()) for t in val)
    assert splits["train"]["documents"] == len(train) and len(splits["train"]["shards"]) > 1
    assert splits["train"]["tokens"] == sum(len(t.encode()) + 1 for t in train)  # bytes + eot
    assert sorted(p.name for p in folder.parent.iterdir()) == ["mixed"]  # nothing left over


def test_adding_files_leaves_every_document_on_its_side(tmp_path, cache):
    first = write_documents(tmp_path / "a", range(30))
    prepare(str(tmp_path / "a"), "before", config(), progress=False)
    write_documents(tmp_path / "a" / "new", range(100, 130))
    after = prepare(str(tmp_path / "a"), "after", config(), progress=False)
    before = prepared_dir("before")
    for split in ("train", "val"):
        old = set(documents_of(before, split))
        assert old == set(documents_of(after, split)) & set(first)


def test_several_workers_write_the_shards_of_one(tmp_path, cache, monkeypatch):
    write_documents(tmp_path / "data", range(50))
    monkeypatch.setattr(pipeline, "BATCH_CHARS", 3000)  # many batches in flight, one at a time
    one = prepare(
        str(tmp_path / "data"),
        "one",
        config("prepare.workers=1", "prepare.shard_tokens=4096"),
        progress=False,
    )
    two = prepare(
        str(tmp_path / "data"),
        "two",
        config("prepare.workers=2", "prepare.shard_tokens=4096"),
        progress=False,
    )
    for split in ("train", "val"):
        assert Manifest.read(one).shards(split) == Manifest.read(two).shards(split)


def test_a_bpe_corpus_keeps_the_tokenizer_it_trained_on_training_text(tmp_path, cache, capsys):
    texts = write_documents(tmp_path / "data", range(40))
    cfg = config("tokenizer.vocab_size=300", "prepare.tokenizer_chars=100000", kind="bpe")
    folder = prepare(str(tmp_path / "data"), "bpe", cfg)
    record = json.loads((folder / "manifest.json").read_text())["tokenizer"]
    tokenizer = Tokenizer.load(folder / "tokenizer.json")
    assert record["sha256"] == tokenizer.sha256 and tokenizer.vocab_size == 300
    assert record["trained_on"]["corpus"] == "bpe" and record["trained_on"]["split"] == "train"
    train = [t for t in texts if not is_validation(text_sha256(t), 0.2)]  # in file order
    assert record["trained_on"]["sha256"] == text_sha256("\n\n".join(train))
    assert documents_of(folder, "train") == train  # a BPE stream decodes to the same texts
    out = capsys.readouterr().out
    assert "split  documents" in out and "data.corpus=bpe" in out


def test_the_tokenizer_sample_stops_at_tokenizer_chars(tmp_path, cache):
    write_documents(tmp_path / "data", range(40))
    cfg = config("tokenizer.vocab_size=260", "prepare.tokenizer_chars=1000", kind="bpe")
    folder = prepare(str(tmp_path / "data"), "small", cfg, progress=False)
    trained = json.loads((folder / "manifest.json").read_text())["tokenizer"]["trained_on"]
    train = [document(s) for s in range(40) if not is_validation(text_sha256(document(s)), 0.2)]
    sample, size = [], 0
    while size < 1000:  # whole documents in file order, the last one cut at 1000 characters
        sample.append(train[len(sample)][: 1000 - size])
        size += len(sample[-1])
    assert len(sample) > 1 and trained["sha256"] == text_sha256("\n\n".join(sample))


def test_an_existing_corpus_is_kept_unless_overwritten(tmp_path, cache):
    write_documents(tmp_path / "data", range(30))
    folder = prepare(str(tmp_path / "data"), "mine", config(), progress=False)
    before = (folder / "manifest.json").read_bytes()
    with pytest.raises(CourseError, match="corpus mine already exists"):
        prepare(str(tmp_path / "data"), "mine", config(), progress=False)
    assert (folder / "manifest.json").read_bytes() == before
    write_documents(tmp_path / "data", range(30, 60))
    prepare(str(tmp_path / "data"), "mine", config(), overwrite=True, progress=False)
    assert Manifest.read(folder).document["files"]["read"] == 60


@pytest.mark.parametrize("name", ["a/b", "../up", "", ".hidden", "tinyshakespeare.txt", "x" * 65])
def test_a_corpus_name_is_a_plain_name(tmp_path, cache, name):
    with pytest.raises(CourseError, match="a corpus name is"):
        prepare(str(tmp_path), name, config(), progress=False)


@pytest.mark.parametrize(
    ("fraction", "message"), [(0.999, "no training document"), (1e-9, "fell in the validation")]
)
def test_a_split_left_empty_is_refused(tmp_path, cache, fraction, message):
    write_documents(tmp_path / "data", range(5))
    with pytest.raises(CourseError, match=message):
        prepare(
            str(tmp_path / "data"), "x", config(f"prepare.val_fraction={fraction}"), progress=False
        )
    assert not (cache / "corpora" / "x").exists()
    assert list((cache / "corpora").iterdir()) == []  # the half-built folder is gone


def test_files_with_no_document_are_refused(tmp_path, cache):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "blank.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(CourseError, match="the files hold no document"):
        prepare(str(tmp_path / "data"), "x", config(), progress=False)
