"""Save and load: exact round trip, a stable identity, and a clear error for every corruption."""

from __future__ import annotations

import json

import pytest

from shared.errors import CourseError
from week2_tokenizer import Tokenizer
from week2_tokenizer.bytes_unicode import byte_to_unicode, bytes_to_text, text_to_bytes


def test_byte_table_is_a_printable_bijection():
    table = byte_to_unicode()
    assert len(set(table.values())) == 256
    assert all(char.isprintable() and not char.isspace() for char in table.values())
    assert bytes_to_text(b" the\n") == "ĠtheĊ"
    assert text_to_bytes(bytes_to_text(bytes(range(256)))) == bytes(range(256))


@pytest.mark.task("2.2", "2.3", "2.4", "2.5")
def test_save_load_round_trip(small_bpe, tmp_path):
    path = tmp_path / "tok.json"
    small_bpe.save(path)
    loaded = Tokenizer.load(path)
    assert loaded.vocab == small_bpe.vocab and loaded.merges == small_bpe.merges
    assert loaded.special_tokens == small_bpe.special_tokens and loaded.pattern == small_bpe.pattern
    assert loaded.sha256 == small_bpe.sha256
    text = "Wherefore art thou, Romeo?<|endoftext|>"
    assert loaded.encode(text) == small_bpe.encode(text)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["version"] == 1 and document["merges"][0] == "Ġ t"


def test_gpt2_round_trip(gpt2, tmp_path):
    gpt2.save(tmp_path / "gpt2.json")
    loaded = Tokenizer.load(tmp_path / "gpt2.json")
    assert loaded.vocab == gpt2.vocab and loaded.sha256 == gpt2.sha256


@pytest.mark.task("2.2", "2.3", "2.4")
def test_sha256_changes_with_content(small_bpe):
    other = Tokenizer(small_bpe.vocab, small_bpe.merges[:-1], small_bpe.special_tokens)
    assert other.sha256 != small_bpe.sha256 and len(small_bpe.sha256) == 64


def corrupt(document: dict, key: str, value) -> dict:
    changed = dict(document)
    if callable(value):
        changed[key] = value(changed[key])
    elif value is ...:
        del changed[key]
    else:
        changed[key] = value
    return changed


@pytest.mark.task("2.2", "2.3", "2.4")
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("format", "something else", "'format' must be"),
        ("version", 2, "version 2 is not supported"),
        ("merges", ..., "missing key 'merges'"),
        ("vocab", "abc", "'vocab' must be a list of tokens"),
        ("vocab", lambda v: v[:300] + [v[299]] + v[301:], "token b'.+' appears twice"),
        ("merges", ["Ġt"], r"merges\[0\] = 'Ġt' must be two tokens"),
        ("merges", ["Ġ zz"], "is not in the vocab"),
        ("special_tokens", {"<|endoftext|>": "x"}, "must be an integer id"),
        ("special_tokens", {"<|endoftext|>": 3}, "does not hold its bytes"),
        ("pattern", "(", "not a valid regex"),
        ("pattern", "(a+)+$", "has capturing groups"),
        ("pattern", r"\p{L}+|\p{N}+", "so encoding would drop text"),
        ("special_tokens", {"": 399}, "must be a non-empty string"),
        ("trained_on", "tinyshakespeare", "'trained_on' must be an object"),
        ("trained_on", {"corpus": "c", "sha256": "0" * 64, "split": "val"}, "must be one of"),
        ("trained_on", {"corpus": "c", "sha256": "xyz", "split": "all"}, "64 hexadecimal"),
    ],
)
def test_load_names_what_is_wrong(small_bpe, tmp_path, key, value, message):
    from week2_tokenizer.serialize import to_json_dict

    path = tmp_path / "bad.json"
    path.write_text(json.dumps(corrupt(to_json_dict(small_bpe), key, value)), encoding="utf-8")
    with pytest.raises(CourseError, match=message) as error:
        Tokenizer.load(path)
    assert str(error.value).startswith(str(path))


def test_load_errors_for_files(tmp_path):
    with pytest.raises(CourseError, match="tokenizer file not found"):
        Tokenizer.load(tmp_path / "missing.json")
    (tmp_path / "trunc.json").write_text('{"format": ', encoding="utf-8")
    with pytest.raises(CourseError, match="not valid JSON"):
        Tokenizer.load(tmp_path / "trunc.json")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    with pytest.raises(CourseError, match="must hold a JSON object"):
        Tokenizer.load(tmp_path / "list.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CourseError, match="not UTF-8"):
        Tokenizer.load(tmp_path / "bin.json")


def test_vocab_must_be_dense_and_hold_every_byte():
    with pytest.raises(CourseError, match="ids must be 0..1"):
        Tokenizer({0: b"a", 5: b"b"}, [])
    with pytest.raises(CourseError, match="lacks the single byte"):
        Tokenizer({0: b"a"}, [])


@pytest.mark.task("2.2", "2.3", "2.4")
def test_unknown_character_in_a_token(small_bpe, tmp_path):
    from week2_tokenizer.serialize import to_json_dict

    document = to_json_dict(small_bpe)
    document["vocab"][300] = " space"  # a plain space is not in GPT-2's byte table
    (tmp_path / "t.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CourseError, match=r"vocab\[300\] = ' space' has ' ', not a byte character"):
        Tokenizer.load(tmp_path / "t.json")


@pytest.mark.task("2.2", "2.3", "2.4")
def test_a_pattern_that_backtracks_is_refused_in_seconds(small_bpe, tmp_path):
    """The issue's file: `(a+)+$` made a 5,001-character encode take 6 minutes."""
    import time

    from week2_tokenizer.serialize import to_json_dict

    document = to_json_dict(small_bpe)
    document["pattern"] = r"(?:a+)+$|[^a]|a"
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(CourseError, match=f"^{path}: pre-tokenizer pattern .* took over"):
        Tokenizer.load(path)
    assert time.perf_counter() - start < 30


@pytest.mark.task("2.2", "2.3", "2.4")
def test_trained_on_is_saved_but_is_not_part_of_the_identity(small_bpe, tmp_path):
    from week2_tokenizer.provenance import TrainedOn

    record = TrainedOn("notes.txt", "ab" * 32, "train")
    recorded = Tokenizer(
        small_bpe.vocab, small_bpe.merges, small_bpe.special_tokens, trained_on=record
    )
    recorded.save(tmp_path / "tok.json")
    loaded = Tokenizer.load(tmp_path / "tok.json")
    assert loaded.trained_on == record and small_bpe.trained_on is None
    assert loaded.sha256 == small_bpe.sha256  # a checkpoint of either pairs with both


@pytest.mark.task("2.2", "2.3", "2.4")
def test_a_file_from_before_trained_on_loads(small_bpe, tmp_path):
    from week2_tokenizer.serialize import to_json_dict

    document = to_json_dict(small_bpe)
    assert "trained_on" not in document
    (tmp_path / "old.json").write_text(json.dumps(document), encoding="utf-8")
    assert Tokenizer.load(tmp_path / "old.json").trained_on is None
