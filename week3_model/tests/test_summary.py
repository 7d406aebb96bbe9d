"""The parameter-summary command."""

from __future__ import annotations

import pytest

from shared.errors import run_cli
from week3_model.summary import format_breakdown, main


@pytest.mark.task("3.6", "3.7")
def test_gpt2_small_by_default(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "total                 124,439,808" in out
    assert "without embeddings: 85,056,000" in out


@pytest.mark.task("3.6", "3.7")
def test_config_file_overrides_and_vocab_size(tmp_path, capsys):
    path = tmp_path / "baby.yaml"
    path.write_text("model:\n  block_size: 64\n  n_layer: 4\n  n_head: 4\n  n_embd: 128\n")
    assert main(["--config", str(path), "--vocab-size", "256", "model.dropout=0.1"]) == 0
    out = capsys.readouterr().out
    assert "vocab_size=256" in out and "dropout=0.1" in out
    assert "total" in out and "834,304" in out


def test_bad_override_is_one_line_and_exit_2(capsys):
    assert run_cli(main, ["model.n_head=5"]) == 2
    assert capsys.readouterr().err.startswith("error: model.n_embd: must be divisible by n_head=5")


def test_format_breakdown_shares():
    table = format_breakdown({"a": 3, "b": 1})
    assert table.splitlines() == [
        "a                  3   75.0%",
        "b                  1   25.0%",
        "total              4",
    ]


@pytest.mark.task("3.6", "3.7")
def test_vocab_size_comes_from_the_configs_tokenizer(tmp_path, capsys):
    path = tmp_path / "bytes.yaml"
    path.write_text("tokenizer:\n  kind: bytes\nmodel:\n  n_layer: 1\n  n_head: 2\n  n_embd: 8\n")
    assert main(["--config", str(path)]) == 0
    assert "vocab_size=257" in capsys.readouterr().out  # 256 bytes + <|endoftext|>
    path.write_text("tokenizer:\n  kind: bpe\n  vocab_size: 700\n")
    assert main(["--config", str(path)]) == 0
    assert "vocab_size=700" in capsys.readouterr().out
