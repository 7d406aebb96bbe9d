"""The command line: train, encode, decode, info, and one clear line for each mistake."""

from __future__ import annotations

import io
import sys

import pytest

from shared.errors import run_cli
from week2_tokenizer import Tokenizer, cli


def run(
    argv: list[str], capsys, stdin: str | None = None, monkeypatch=None
) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = run_cli(cli.main, argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(" ".join(f"word{i % 97} thing{i % 31}." for i in range(600)), encoding="utf-8")
    return path


def test_train_info_encode_decode(tmp_path, corpus, capsys, monkeypatch):
    out_path = tmp_path / "tok.json"
    code, out, _ = run(
        ["train", "--vocab-size", "300", "--input", str(corpus), "--output", str(out_path)], capsys
    )
    assert code == 0 and out_path.is_file() and "saved" in out
    assert Tokenizer.load(out_path).vocab_size == 300

    code, out, _ = run(
        ["info", "--tokenizer", str(out_path), "--file", str(corpus), "--top", "3"], capsys
    )
    assert (
        code == 0
        and "vocab size: 300" in out
        and "bytes per token" in out
        and "longest tokens" in out
    )

    code, out, _ = run(["encode", "--tokenizer", str(out_path), "word1", "thing2."], capsys)
    ids = out.split()
    code, out, _ = run(["decode", "--tokenizer", str(out_path), *ids], capsys)
    assert out == "word1 thing2.\n"

    code, out, _ = run(
        ["encode", "--tokenizer", "gpt2"], capsys, stdin="Hello world", monkeypatch=monkeypatch
    )
    assert out.split() == ["15496", "995"]
    code, out, _ = run(
        ["decode", "--tokenizer", "bytes"], capsys, stdin="104 105", monkeypatch=monkeypatch
    )
    assert out == "hi\n"


def test_train_whole_file_and_gpt4(tmp_path, corpus, capsys):
    out_path = tmp_path / "g4.json"
    argv = ["train", "--vocab-size", "290", "--input", str(corpus), "--output", str(out_path)]
    code, out, _ = run([*argv, "--whole-file", "--pattern", "gpt4", "--special", "<|a|>"], capsys)
    assert code == 0 and f"all of {corpus}" in out
    assert Tokenizer.load(out_path).special_tokens == {"<|a|>": 289}


def errors(tmp_path, corpus):
    existing = tmp_path / "existing.json"
    existing.write_text("keep me", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9".encode("latin-1"))
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "tiny-gpt-course tokenizer", "version": 1', encoding="utf-8")
    out = str(tmp_path / "new.json")
    return [
        (
            ["train", "--vocab-size", "300", "--input", str(corpus), "--output", str(existing)],
            "already exists; pass --force",
        ),
        (
            ["train", "--vocab-size", "256", "--input", str(corpus), "--output", out],
            "--vocab-size 256 is too small",
        ),
        (
            ["train", "--vocab-size", "300", "--input", str(empty), "--output", out],
            "the file is empty",
        ),
        (
            [
                "train",
                "--vocab-size",
                "300",
                "--input",
                str(tmp_path / "nope.txt"),
                "--output",
                out,
            ],
            "no such file",
        ),
        (
            ["train", "--vocab-size", "300", "--input", str(latin1), "--output", out],
            "not UTF-8 text",
        ),
        (["info", "--tokenizer", str(corrupt)], "not valid JSON"),
        (["decode", "--tokenizer", "bytes", "1", "x"], "'x' is not a token id"),
        (["decode", "--tokenizer", "bytes", "300"], "token id 300 is not in the vocabulary"),
    ]


def test_every_mistake_is_one_line_and_exit_2(tmp_path, corpus, capsys):
    for argv, message in errors(tmp_path, corpus):
        code, out, err = run(argv, capsys)
        assert code == 2, argv
        assert err.startswith("error: ") and message in err, (argv, err)
        assert err.count("\n") == 1
    assert (tmp_path / "existing.json").read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "new.json").exists()


def test_force_overwrites(tmp_path, corpus, capsys):
    existing = tmp_path / "existing.json"
    existing.write_text("old", encoding="utf-8")
    argv = [
        "train",
        "--vocab-size",
        "280",
        "--input",
        str(corpus),
        "--output",
        str(existing),
        "--force",
    ]
    assert run(argv, capsys)[0] == 0
    assert Tokenizer.load(existing).vocab_size == 280


def test_module_entry_point(tmp_path):
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "week2_tokenizer", "decode", "--tokenizer", "bytes", "999"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and result.stderr.strip() == (
        "error: token id 999 is not in the vocabulary (ids are 0..256)"
    )
