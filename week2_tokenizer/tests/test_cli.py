"""The command line: train, encode, decode, info, and one clear line for each mistake."""

from __future__ import annotations

import io
import sys

import pytest

from shared.errors import run_cli
from week2_tokenizer import Tokenizer, cli


def run(
    argv: list[str], capsys, stdin: str | bytes | None = None, monkeypatch=None
) -> tuple[int, str, str]:
    if stdin is not None:
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    code = run_cli(cli.main, argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(" ".join(f"word{i % 97} thing{i % 31}." for i in range(600)), encoding="utf-8")
    return path


@pytest.mark.task("2.1", "2.4", "2.5")
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


@pytest.mark.task("2.4", "2.5")
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
        (
            ["train", "--vocab-size", "300", "--input", str(corpus), "--special", ""],
            '--special "": a special token must be a non-empty string',
        ),
        (
            ["train", "--vocab-size", "300", "--input", str(corpus), "--output", out, "--force=0"],
            "FORCE=0: allowed values are 1, yes, true",
        ),
        (["info", "--tokenizer", "bytes", "--top", "-3"], "--top -3: must be a positive integer"),
        (["info", "--tokenizer", "bytes", "--top", "0"], "--top 0: must be a positive integer"),
        (["info", "--tokenizer", str(corrupt)], "not valid JSON"),
        (["decode", "--tokenizer", "bytes", "1", "x"], "'x' is not a token id"),
        (["decode", "--tokenizer", "bytes", "300"], "token id 300 is not in the vocabulary"),
    ]


@pytest.mark.task("2.1")
def test_every_mistake_is_one_line_and_exit_2(tmp_path, corpus, capsys):
    for argv, message in errors(tmp_path, corpus):
        code, out, err = run(argv, capsys)
        assert code == 2, argv
        assert err.startswith("error: ") and message in err, (argv, err)
        assert err.count("\n") == 1
    assert (tmp_path / "existing.json").read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "new.json").exists()


@pytest.mark.task("2.4")
def test_training_that_stops_short_says_where_and_writes_nothing(tmp_path, corpus, capsys):
    out = tmp_path / "big.json"
    argv = ["train", "--vocab-size", "100000", "--input", str(corpus), "--output", str(out)]
    code, _, err = run(argv, capsys)
    assert code == 2 and not out.exists()
    assert err.splitlines()[-1].startswith(
        f"error: --vocab-size 100000 is more than the training split of {corpus}"
    )
    assert "runs out of pairs to merge at 353 tokens" in err


def test_stdin_that_is_not_utf8_is_one_line(capsys, monkeypatch):
    for command in ("encode", "decode"):
        code, _, err = run(
            [command, "--tokenizer", "bytes"], capsys, stdin=b"12 \xff", monkeypatch=monkeypatch
        )
        assert code == 2
        assert err == "error: stdin: not UTF-8 text (bad byte 0xff at byte offset 3)\n"


@pytest.mark.task("2.5")
def test_stdin_is_encoded_as_its_bytes(capsys, monkeypatch):
    code, out, _ = run(
        ["encode", "--tokenizer", "bytes"], capsys, stdin=b"a\r\nb", monkeypatch=monkeypatch
    )
    assert out.split() == ["97", "13", "10", "98"]


@pytest.mark.task("2.4", "2.5")
def test_train_shows_what_it_learned(tmp_path, corpus, capsys):
    out_path = tmp_path / "tok.json"
    argv = ["train", "--vocab-size", "300", "--input", str(corpus), "--output", str(out_path)]
    code, out, _ = run(argv, capsys)
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    merges = Tokenizer.load(out_path).merges
    assert lines["first merges"].startswith(repr((merges[0][0] + merges[0][1]).decode()))
    assert lines["longest tokens"].count(",") == 9
    assert lines["compression"].endswith(f"bytes per token on the validation split of {corpus}")
    code, out, _ = run([*argv, "--force", "--whole-file"], capsys)
    assert "(seen in training)" in out.splitlines()[-1]


@pytest.mark.task("2.4", "2.5")
def test_default_output_is_named_after_the_training_data(tmp_path, corpus, capsys, monkeypatch):
    from shared import paths

    monkeypatch.setattr(paths, "RUNS_DIR", tmp_path / "runs")
    for extra in ([], ["--whole-file"]):
        assert run(["train", "--vocab-size", "280", "--input", str(corpus), *extra], capsys)[0] == 0
    names = sorted(p.name for p in (tmp_path / "runs" / "tokenizers").iterdir())
    assert len(names) == 2 and all(name.startswith("bpe_280_corpus-") for name in names)
    assert [name.split("-")[1] for name in names] == ["all", "train"]


@pytest.mark.task("2.4", "2.5")
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
    assert run([*argv[:-1], "--vocab-size", "281", "--force", "yes"], capsys)[0] == 0
    assert Tokenizer.load(existing).vocab_size == 281


@pytest.mark.task("2.1")
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
