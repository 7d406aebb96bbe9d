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
