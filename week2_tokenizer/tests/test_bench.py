"""The benchmark's references are correct, and its rows have the agreed shape."""

from __future__ import annotations

import pytest

from shared.bench import ROW_KEYS
from week2_tokenizer import bench, train_bpe
from week2_tokenizer.tokenizer import Tokenizer


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
def test_recount_reference_learns_the_course_merges(shakespeare):
    text = shakespeare[:5000]
    assert bench.recount_trainer(text, 300) == train_bpe(text, 300, [], progress=False).merges


def test_gpt2_references_agree_with_the_course(gpt2, shakespeare):
    tiktoken_encoding, hf = bench.gpt2_references()
    text = shakespeare[:5000]
    assert tiktoken_encoding.encode_ordinary(text) == gpt2.encode(text) == hf.encode(text).ids


@pytest.mark.task("2.5")
def test_the_cold_encoder_starts_from_a_fresh_tokenizer(gpt2, shakespeare):
    cold = bench.ColdEncoder(shakespeare[:2000])
    first = cold.tokenizer
    cold()
    cold.reset()
    assert cold.tokenizer is not first and isinstance(cold.tokenizer, Tokenizer)
    assert cold.tokenizer.encode(cold.text) == gpt2.encode(cold.text)


def test_random_letters_are_seeded_text_without_whitespace():
    text = bench.random_letters(5000)
    assert len(text) == 5000 and text.isalpha() and text.islower()
    assert text == bench.random_letters(5000) != bench.random_letters(5000, seed=1)


@pytest.mark.task("2.4")
def test_probe_times_and_measures_a_job(tmp_path):
    source = tmp_path / "letters.txt"
    source.write_text(bench.random_letters(3000), encoding="utf-8")
    numbers = bench.probe("train", str(source), 256 + 10)
    assert numbers["seconds"] > 0 and numbers["peak_mb"] >= numbers["before_mb"] > 0
    assert numbers["bytes"] == 3000
    assert bench.probe("encode", str(source), 0)["seconds"] > 0


@pytest.mark.task("2.4")
def test_no_whitespace_rows_measure_in_fresh_processes():
    rows = bench.no_whitespace_rows(4000, merges=10)
    assert [(r["impl"], r["unit"]) for r in rows] == [
        ("train 10 merges", "s/100 merges"),
        ("train 10 merges, memory", "B/input byte"),
        ("GPT-2 encode", "MB/s"),
        ("GPT-2 encode, memory", "B/input byte"),
    ]
    assert all(
        tuple(r) == ROW_KEYS and r["case"] == "no whitespace, 4 kB of random letters" for r in rows
    )
    assert rows[0]["value"] > 0 and rows[2]["value"] > 0


def fake_interleaved(variants, rounds, warmup=1, *, prepare=None):
    """Each variant once (and its prepare), "timed" at 0.5 s for the reference, 1 s otherwise."""
    for name, work in variants.items():
        if prepare and name in prepare:
            prepare[name]()
        work()
    first = next(iter(variants))
    return {name: [0.5 if name == first else 1.0] * rounds for name in variants}


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
def test_rows_on_a_small_corpus(shakespeare, monkeypatch, capsys):
    monkeypatch.setattr(bench, "read_text", lambda path: shakespeare[:3000])
    monkeypatch.setattr(bench, "interleaved", fake_interleaved)
    monkeypatch.setattr(bench, "NO_WHITESPACE_QUICK", (2000, 5))
    rows = bench.tokenizer_rows(quick=True)
    assert {row["section"] for row in rows} == {"tokenizer"}
    assert {row["unit"] for row in rows} == {"s", "MB/s", "MB", "s/100 merges", "B/input byte"}
    impls = {row["impl"] for row in rows}
    assert {"course", "tokenizers (1 thread)", "recount reference", "tiktoken"} <= impls
    assert all(tuple(row) == ROW_KEYS for row in rows)
    by_impl = {(row["case"], row["impl"]): row for row in rows}
    train = by_impl[("train vocab 4096 (first 50k chars)", "course")]
    assert train["reference"] == "tokenizers (1 thread)" and train["ratio"] == 2.0  # 1.0 / 0.5
    cold = by_impl[("GPT-2 encode (first 50k chars)", "course (cold cache)")]
    assert cold["reference"] == "tiktoken" and cold["rounds"] == 3
    monkeypatch.setattr(bench, "tokenizer_rows", lambda quick: rows)
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "train vocab 4096" in out and "vs tokenizers (1 thread)" in out
