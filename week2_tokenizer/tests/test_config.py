"""The `tokenizer` config section and load_or_train_tokenizer."""

from __future__ import annotations

import pytest

from shared.config import config_from_dict
from shared.errors import CourseError
from week2_tokenizer import Tokenizer, TokenizerConfig, load_or_train_tokenizer
from week2_tokenizer.config import default_tokenizer_path


def test_section_is_registered_with_defaults():
    cfg = config_from_dict({"tokenizer": {"vocab_size": 512}})
    assert cfg.tokenizer == TokenizerConfig(vocab_size=512)
    assert cfg.tokenizer.special_tokens == ["<|endoftext|>"] and cfg.tokenizer.kind == "bpe"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"vocab_size": 256},
            "tokenizer.vocab_size: must be at least 256 \\+ special tokens = 257",
        ),
        ({"kind": "wordpiece"}, "tokenizer.kind: must be one of 'bpe', 'bytes', 'gpt2'"),
        ({"special_tokens": [""]}, "tokenizer.special_tokens"),
        ({"path": ""}, "tokenizer.path"),
    ],
)
def test_section_errors(values, message):
    with pytest.raises(CourseError, match=message):
        config_from_dict({"tokenizer": values})


def test_default_path():
    assert default_tokenizer_path(1000).parts[-2:] == ("tokenizers", "bpe_1000.json")
    assert default_tokenizer_path(1000, "gpt4").name == "bpe_1000_gpt4.json"


def test_bytes_and_gpt2_kinds():
    assert load_or_train_tokenizer(TokenizerConfig(kind="bytes"), "unused").vocab_size == 257
    assert load_or_train_tokenizer(TokenizerConfig(kind="gpt2"), "unused").eot_id == 50256


@pytest.mark.task("2.4")
def test_bpe_trains_on_the_training_split_then_loads(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    words = " ".join(f"w{i * 7919 % 1000}x{i % 13}" for i in range(400))
    corpus.write_text(words + " VALIDATIONONLY" * ((len(words) // 9) // 15), encoding="utf-8")
    path = tmp_path / "tok" / "bpe.json"
    cfg = TokenizerConfig(vocab_size=280, path=str(path))
    trained = load_or_train_tokenizer(cfg, str(corpus))
    assert path.is_file() and "training BPE" in capsys.readouterr().out
    assert trained.vocab_size == 280
    assert not any(b"VALID" in token for token in trained.vocab.values())  # validation text unseen
    loaded = load_or_train_tokenizer(cfg, str(corpus))
    assert loaded.sha256 == trained.sha256 and "training" not in capsys.readouterr().out
    with pytest.raises(CourseError, match="holds a tokenizer of vocab_size 280"):
        load_or_train_tokenizer(TokenizerConfig(vocab_size=300, path=str(path)), str(corpus))


@pytest.mark.task("2.4")
def test_a_corpus_too_small_for_the_vocab_size(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("abab " * 50, encoding="utf-8")
    cfg = TokenizerConfig(vocab_size=300, path=str(tmp_path / "t.json"))
    with pytest.raises(CourseError, match="runs out of pairs to merge at 260 tokens"):
        load_or_train_tokenizer(cfg, str(corpus))
    assert not (tmp_path / "t.json").exists()


def test_unknown_corpus_is_a_clear_error(tmp_path):
    cfg = TokenizerConfig(path=str(tmp_path / "t.json"))
    with pytest.raises(CourseError, match="no such file"):
        load_or_train_tokenizer(cfg, str(tmp_path / "nope.txt"))
    assert isinstance(Tokenizer.bytes_only([]), Tokenizer)


# ------------------------------------------------------------------ what a file was trained on


def write_corpus(path, word: str):
    text = " ".join(f"{word}{i * 7919 % 1000}x{i % 13}" for i in range(400))
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """runs/ in a temporary folder, so that default tokenizer paths land there."""
    from shared import paths

    monkeypatch.setattr(paths, "RUNS_DIR", tmp_path / "runs")
    return tmp_path / "runs"


def test_other_training_data_gets_its_own_default_name():
    from week2_tokenizer.provenance import TrainedOn, course_default

    def name(trained_on, specials=("<|endoftext|>",), pattern="gpt2"):
        return default_tokenizer_path(1024, pattern, trained_on, specials).name

    assert name(course_default()) == default_tokenizer_path(1024).name == "bpe_1024.json"
    notes = TrainedOn("my notes.txt", "ab" * 32, "train")
    names = {
        name(course_default()),
        name(notes),
        name(TrainedOn("my notes.txt", "ab" * 32, "all")),
        name(TrainedOn("my notes.txt", "cd" * 32, "train")),
        name(course_default(), ["<|endoftext|>", "<|pad|>"]),
        name(TrainedOn("tinyshakespeare.txt", course_default().sha256, "all")),
    }
    assert len(names) == 6
    assert name(notes, pattern="gpt4").startswith("bpe_1024_gpt4_my-notes-train-")


@pytest.mark.task("2.4")
def test_a_run_on_a_new_corpus_trains_its_own_tokenizer(tmp_path, runs, capsys):
    """The issue: a run on a new corpus silently used Shakespeare's tokenizer."""
    first = write_corpus(tmp_path / "first.txt", "w")
    second = write_corpus(tmp_path / "second.txt", "q")
    cfg = TokenizerConfig(vocab_size=280)
    one = load_or_train_tokenizer(cfg, str(first))
    two = load_or_train_tokenizer(cfg, str(second))
    assert one.sha256 != two.sha256
    assert one.trained_on.sha256 != two.trained_on.sha256 and two.trained_on.split == "train"
    saved = sorted(p.name for p in (runs / "tokenizers").iterdir())
    assert len(saved) == 2 and all(name.startswith("bpe_280_") for name in saved)
    assert load_or_train_tokenizer(cfg, str(first)).sha256 == one.sha256  # reused, not retrained
    assert capsys.readouterr().out.count("training BPE") == 2


@pytest.mark.task("2.4")
def test_a_tokenizer_trained_on_other_data_is_refused_at_a_named_path(tmp_path, capsys):
    from week2_tokenizer.provenance import train_recorded, training_data

    corpus = write_corpus(tmp_path / "corpus.txt", "w")
    path = tmp_path / "tok.json"
    source, whole = training_data(str(corpus), "all")  # what `train --whole-file` records
    train_recorded(source, whole, 280, ["<|endoftext|>"], "gpt2", "--vocab-size").save(path)
    before = path.read_bytes()
    cfg = TokenizerConfig(vocab_size=280, path=str(path))
    with pytest.raises(CourseError, match=f"{path}: was trained on all of .*, but this run asks"):
        load_or_train_tokenizer(cfg, str(corpus))
    other = write_corpus(tmp_path / "other.txt", "q")
    with pytest.raises(CourseError, match="point tokenizer.path elsewhere"):
        load_or_train_tokenizer(cfg, str(other))
    for values, message in [
        ({"pattern": "gpt4"}, "its pre-tokenizer pattern is not tokenizer.pattern=gpt4"),
        ({"special_tokens": ["<|pad|>"]}, "has special tokens"),
    ]:
        with pytest.raises(CourseError, match=message):
            load_or_train_tokenizer(
                TokenizerConfig(vocab_size=280, path=str(path), **values), str(corpus)
            )
    assert path.read_bytes() == before


@pytest.mark.task("2.4")
def test_a_file_from_before_records_is_checked_by_training_again(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus.txt", "w")
    cfg = TokenizerConfig(vocab_size=280, path=str(tmp_path / "tok.json"))
    trained = load_or_train_tokenizer(cfg, str(corpus))
    trained.trained_on = None  # as the course wrote files before they recorded it
    trained.save(cfg.path)
    kept = load_or_train_tokenizer(cfg, str(corpus))
    assert kept.sha256 == trained.sha256 and Tokenizer.load(cfg.path).trained_on is not None
    assert "same merges" in capsys.readouterr().out

    from week2_tokenizer import train_bpe

    (tmp_path / "tok.json").unlink()
    elsewhere = train_bpe(write_corpus(tmp_path / "b.txt", "q").read_text(), 280, progress=False)
    elsewhere.save(cfg.path)
    before = (tmp_path / "tok.json").read_bytes()
    with pytest.raises(CourseError, match="records no training data, and training on the"):
        load_or_train_tokenizer(cfg, str(corpus))
    assert (tmp_path / "tok.json").read_bytes() == before
