"""Catalogue: the tokenizer (issue #12, week 2's cases).

Each case is a mistake or a fault met by `make bpe-train` or `python -m week2_tokenizer`: a
tokenizer file whose pattern is a trap, a pattern that is almost GPT-4's, a regex module with
another Unicode table, a saved tokenizer reused for other data, an empty special token, a
vocabulary the text cannot fill, bytes that are not UTF-8, a knob the command did not know. The
course answers with one line naming the file, flag or value and what is allowed, and nothing of
the learner's changed. One small tokenizer is trained once for the module (seconds).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.catalogue.harness import ROOT, Snapshot, assert_refused, command, course, make

os.environ.setdefault("COURSE_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT / "week2_tokenizer" / "tests"))
from reference import (  # noqa: E402
    cl100k_pattern,
    letter_probe,
    tiktoken_gpt2,
    unassigned_in_pythons_unicode,
)

from shared.data import fetch, read_text  # noqa: E402
from week1_setup.split import split_text  # noqa: E402
from week2_tokenizer import Tokenizer  # noqa: E402
from week2_tokenizer.bytes_unicode import bytes_to_text  # noqa: E402

WEEK2 = "week2_tokenizer"
# GPT-4's pattern as the course had it before this issue: cl100k_base's without `\s++$`.
OLD_GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
)


def _play(path: Path, words: list[str]) -> Path:
    """About 8 KB of play-shaped text, the same every time."""
    lines = []
    for i in range(240):
        a, b = words[i % len(words)], words[(i * 3 + 1) % len(words)]
        lines.append(f"{['ROMEO', 'JULIET', 'NURSE'][i % 3]}:\nO {a}, my {b}, what {a} is this?\n")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def week2_with_runs(runs: Path, *args: str):
    """`python -m week2_tokenizer <args>` with the course's runs/ folder moved to `runs`: the
    same `main`, through the same `run_module`, but a default tokenizer path lands in a
    temporary folder instead of the repository's runs/tokenizers/."""
    code = (
        "import sys; from pathlib import Path; from shared import paths; "
        f"paths.RUNS_DIR = Path({str(runs)!r}); from shared.errors import run_module; "
        "sys.exit(run_module('week2_tokenizer.cli', sys.argv[1:]))"
    )
    return command([sys.executable, "-c", code, *args])


def _ids(result) -> list[int]:
    assert result.returncode == 0, result
    return [int(i) for i in result.stdout.split()]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Two corpora and a 300-token tokenizer trained on the first by the real command."""
    root = tmp_path_factory.mktemp("tokenizer")
    play = _play(root / "play.txt", ["love", "night", "light", "name", "rose", "death"])
    other = _play(root / "other.txt", ["sword", "crown", "blood", "king", "heart", "day"])
    tokenizer = root / "play.json"
    trained = course(WEEK2, "train", "--vocab-size", "300", "--input", play, "--output", tokenizer)
    assert trained.returncode == 0, trained
    return SimpleNamespace(root=root, play=play, other=other, tokenizer=tokenizer)


def test_case1_a_tokenizer_files_pattern_is_checked_before_it_runs(lab):
    """`(a+)+$` made a 5,001-character encode take 6 minutes and silently dropped text (empty
    id list, exit 0)."""
    document = json.loads(lab.tokenizer.read_text(encoding="utf-8"))
    text = "a" * 5000 + "!"
    for pattern, why in [
        ("(a+)+$", "has capturing groups"),  # the file
        ("(?:a+)+$|[^a]|a", "took over"),  # the same trap without its group
        (r"\p{L}+", "encoding would drop text"),  # covers letters only
    ]:
        bad = lab.root / "bad.json"
        bad.write_text(json.dumps({**document, "pattern": pattern}), encoding="utf-8")
        start = time.monotonic()
        result = course(WEEK2, "encode", "--tokenizer", bad, stdin=text)
        assert time.monotonic() - start < 60, result
        assert_refused(result, str(bad), "pre-tokenizer pattern", why, code=2)
    # A file with a named pattern encodes every character: its ids decode back to the text.
    text += " naïve\r\n\t😀 <|endoftext|> end "
    ids = _ids(course(WEEK2, "encode", "--tokenizer", lab.tokenizer, stdin=text))
    decoded = course(WEEK2, "decode", "--tokenizer", lab.tokenizer, *map(str, ids))
    assert decoded.returncode == 0 and decoded.stdout == text + "\n", decoded


def test_case2_the_gpt4_pattern_is_cl100k_base_exactly(lab):
    """The `gpt4` pattern is not cl100k_base's: it lacks the trailing-whitespace alternative
    (4,495 of 100k random strings differ, all at the end of a text)."""
    import tiktoken

    path = lab.root / "gpt4.json"
    args = ["train", "--vocab-size", "300", "--pattern", "gpt4", "--input", lab.play]
    assert course(WEEK2, *args, "--output", path).returncode == 0
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["pattern"] == cl100k_pattern()  # read from tiktoken's source, no download
    # A token "\n " makes the pieces visible in the ids: only `\s++$` keeps " \n\n  " whole.
    newline, space = bytes_to_text(b"\n"), bytes_to_text(b" ")
    document["vocab"].append(newline + space)
    document["merges"].append(f"{newline} {space}")
    path.write_text(json.dumps(document), encoding="utf-8")
    ranks = {token: i for i, token in Tokenizer.load(path).vocab.items() if i != 299}
    cl100k, old = (
        tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
        for name, pattern in (("cl100k", cl100k_pattern()), ("old", OLD_GPT4_PATTERN))
    )
    for text in ("what is this? \n  ", "O love\n\t\n ", "the end \n \t"):
        ids = _ids(course(WEEK2, "encode", "--tokenizer", path, stdin=text))
        assert ids == cl100k.encode_ordinary(text) != old.encode_ordinary(text), text


def test_case3_gpt2_ids_equal_tiktokens_for_code_points_new_to_unicode():
    """GPT-2 ids differ from tiktoken's for about 17k code points (unassigned in older Unicode
    tables) because the `regex` package is unpinned."""
    text = letter_probe(unassigned_in_pythons_unicode())
    ids = _ids(course(WEEK2, "encode", "--tokenizer", "gpt2", stdin=text))
    expected = tiktoken_gpt2(fetch("gpt2/encoder.json")).encode_ordinary(text)
    assert ids == expected, "regex's Unicode table is not tiktoken's: pin the regex version"


def _run_config(root: Path, corpus: Path, tokenizer: Path, name: str) -> Path:
    path = root / f"{name}.yaml"
    path.write_text(
        f"data:\n  corpus: {corpus}\n"
        f"tokenizer:\n  kind: bpe\n  vocab_size: 300\n  path: {tokenizer}\n"
        "model:\n  block_size: 16\n  n_layer: 2\n  n_head: 2\n  n_embd: 32\n"
        "train:\n  batch_size: 4\n  max_iters: 2\n"
        f"run:\n  name: {name}\n  out_dir: {root / 'runs'}\n  device: cpu\n",
        encoding="utf-8",
    )
    return path


def test_case4_a_saved_tokenizer_is_reused_only_for_what_it_was_trained_on(lab):
    """A saved BPE file is reused whatever the corpus or special tokens: a run on a new corpus
    silently uses Shakespeare's tokenizer, and `bpe-train --whole-file` leaks validation text."""
    whole = lab.root / "whole.json"
    args = ["train", "--vocab-size", "300", "--input", lab.play, "--whole-file"]
    assert course(WEEK2, *args, "--output", whole).returncode == 0
    saved = Snapshot(lab.tokenizer, whole)
    for corpus, tokenizer, name, trained_on in [
        (lab.other, lab.tokenizer, "new-corpus", "the training split of"),
        (lab.play, whole, "leak", "all of"),
    ]:
        config = _run_config(lab.root, corpus, tokenizer, name)
        result = course("week4_training", "train", "--config", config)
        assert_refused(result, str(tokenizer), f"was trained on {trained_on} {lab.play}", code=2)
    saved.assert_unchanged()
    # With no path given, other training data gets a file of its own, never the default one.
    runs = lab.root / "default-runs"
    for extra in ([], ["--whole-file"]):
        result = week2_with_runs(runs, "train", "--vocab-size", "300", "--input", lab.play, *extra)
        assert result.returncode == 0, result
    names = sorted(p.name for p in (runs / "tokenizers").iterdir())
    assert [n.split("-")[:2] for n in names] == [["bpe_300_play", "all"], ["bpe_300_play", "train"]]
    records = [json.loads((runs / "tokenizers" / n).read_text())["trained_on"] for n in names]
    assert [r["split"] for r in records] == ["all", "train"]


def test_case5_an_empty_special_and_a_vocabulary_the_text_cannot_fill_are_refused(lab):
    """`week2_tokenizer train --special ""` yields a tokenizer that puts id 256 between every
    byte; BPE that stops short of the requested vocabulary (VOCAB=1000000) does not say so."""
    out = lab.root / "refused.json"
    args = ["train", "--vocab-size", "300", "--input", lab.play, "--output", out]
    assert_refused(course(WEEK2, *args, "--special", ""), "--special", "non-empty", code=2)
    result = make("bpe-train", "VOCAB=1000000", f"INPUT={lab.play}", f"OUT={out}")
    assert_refused(result, "--vocab-size 1000000", "runs out of pairs to merge at", code=2)
    assert not out.exists()
    reached = int(re.search(r"merge at (\d+) tokens", result.last_line).group(1))
    assert make("bpe-train", f"VOCAB={reached}", f"INPUT={lab.play}", f"OUT={out}").returncode == 0
    assert Tokenizer.load(out).vocab_size == reached  # the figure it gave is the real one


def test_case6_bytes_that_are_not_utf8_are_one_line_naming_the_offset(lab):
    """Non-UTF-8 stdin to `week2_tokenizer encode` ends in a traceback; a non-UTF-8 --input to
    train too, and the chunked reader must keep the bytes exactly as in the file."""
    result = course(WEEK2, "encode", "--tokenizer", "bytes", stdin=b"ok \xff")
    assert_refused(result, "stdin", "byte 0xff at byte offset 3", code=2)
    latin1 = lab.root / "latin1.txt"
    latin1.write_bytes("caf\xe9 ".encode("latin-1") * 50)
    for extra in (["--whole-file"], []):
        args = ["train", "--vocab-size", "300", "--input", latin1, "--output", lab.root / "x.json"]
        assert_refused(course(WEEK2, *args, *extra), str(latin1), "offset 3", code=2)
    crlf = lab.root / "crlf.txt"
    crlf.write_bytes(lab.play.read_bytes().replace(b"\n", b"\r\n"))
    for extra in (["--whole-file"], []):
        out = lab.root / f"crlf{len(extra)}.json"
        args = ["train", "--vocab-size", "300", "--input", crlf, "--output", out, *extra]
        assert course(WEEK2, *args).returncode == 0
        assert b"\r\n" in Tokenizer.load(out).vocab.values()  # learned from the file's bytes
    ids = _ids(course(WEEK2, "encode", "--tokenizer", out, stdin=b"O night\r\n"))
    assert course(WEEK2, "decode", "--tokenizer", out, *map(str, ids)).stdout == "O night\r\n\n"


def test_case7_bpe_train_shows_what_it_learned_and_takes_force(lab):
    """`make bpe-train` promises 'the first merges, the longest tokens, compression' and prints
    only a progress bar and the file name; there is no FORCE=1 knob."""
    out = lab.root / "made.json"
    knobs = ["VOCAB=300", f"INPUT={lab.play}", f"OUT={out}"]
    result = make("bpe-train", *knobs)
    assert result.returncode == 0, result
    for shown in ("first merges: '", "longest tokens: '", "bytes per token on the validation"):
        assert shown in result.stdout, result
    kept = Snapshot(out)
    assert_refused(make("bpe-train", *knobs), str(out), "--force", "FORCE=1", code=2)
    assert_refused(make("bpe-train", *knobs, "FORCE=0"), "FORCE=0", "1, yes, true", code=2)
    kept.assert_unchanged()
    assert make("bpe-train", *knobs, "FORCE=1").returncode == 0
    assert course(WEEK2, "train", "--vocab-size", "290", "--input", lab.play, "--output", out,
                  "--force").returncode == 0  # fmt: skip
    assert Tokenizer.load(out).vocab_size == 290


def test_case8_info_refuses_a_top_that_is_not_positive():
    """`info --top -3` prints all tokens but the last 3."""
    for top in ("-3", "0"):
        result = course(WEEK2, "info", "--tokenizer", "bytes", "--top", top)
        assert_refused(result, f"--top {top}", "positive integer", code=2)


def test_case9_one_bytes_per_token_figure_measured_on_the_validation_split(tmp_path):
    """Four different bytes-per-token figures for the same tokenizer across READMEs and
    configs: one figure, measured on the validation split, everywhere."""
    result = week2_with_runs(tmp_path / "runs", "train", "--vocab-size", "1024")
    assert result.returncode == 0, result
    default = tmp_path / "runs" / "tokenizers" / "bpe_1024.json"
    assert f"saved {default} (1024 tokens" in result.stdout  # the configs' default path
    assert "sha256 e6e770541493" in result.stdout  # the same merges as before this issue
    measured = re.search(r"compression: ([\d.]+) bytes per token on the validation", result.stdout)
    validation = tmp_path / "validation.txt"
    validation.write_text(split_text(read_text(fetch("tinyshakespeare.txt")))[1], encoding="utf-8")
    info = course(WEEK2, "info", "--tokenizer", default, "--file", validation)
    assert f"{measured.group(1)} bytes per token" in info.stdout, info
    figure = f"{float(measured.group(1)):.2f}"
    readme = (ROOT / "week2_tokenizer" / "README.md").read_text(encoding="utf-8")
    assert f"**{figure} at 1024**" in readme
    for config in ("tiny.yaml", "tiny_rope_sdpa.yaml"):
        text = (ROOT / "configs" / config).read_text(encoding="utf-8")
        assert (
            f"vocab_size: 1024         # {figure} bytes per token on the validation split" in text
        )


def test_case10_the_lessons_python_commands_run_in_the_activated_environment():
    """Exercises in week 2's README say `python -m week2_tokenizer ...` without saying that it
    runs only with the venv active."""
    readme = (ROOT / "week2_tokenizer" / "README.md").read_text(encoding="utf-8")
    for section in readme.split("\n## ")[1:]:
        if "python -m week2_tokenizer" in section:
            assert "source .venv/bin/activate" in section, section.splitlines()[0]
    if not (ROOT / ".venv" / "bin" / "activate").is_file() or shutil.which("bash") is None:
        pytest.skip("no .venv here: `make setup` creates it")
    line = 'echo "Hello world" | python -m week2_tokenizer encode --tokenizer gpt2'
    assert f"{line}   # 15496 995 198 (198: the newline)" in readme
    shell = command(["bash", "-c", f"source .venv/bin/activate && {line}"])
    assert shell.returncode == 0 and shell.stdout.split() == ["15496", "995", "198"], shell
