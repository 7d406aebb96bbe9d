"""The benchmark's references are correct, and its rows have the agreed shape."""

from __future__ import annotations

import pytest

from week2_tokenizer import bench, train_bpe


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
def test_recount_reference_learns_the_course_merges(shakespeare):
    text = shakespeare[:5000]
    assert bench.recount_trainer(text, 300) == train_bpe(text, 300, [], progress=False).merges


@pytest.mark.task("2.5")
def test_gpt2_references_agree_with_the_course(gpt2, shakespeare):
    tiktoken_encoding, hf = bench.gpt2_references()
    text = shakespeare[:5000]
    assert tiktoken_encoding.encode_ordinary(text) == gpt2.encode(text) == hf.encode(text).ids


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
def test_rows_on_a_small_corpus(shakespeare, monkeypatch, capsys):
    monkeypatch.setattr(bench, "read_text", lambda path: shakespeare[:3000])
    monkeypatch.setattr(
        bench, "median_seconds", lambda work, repeats=1, warmup=0: (work(), 0.01)[1]
    )
    rows = bench.tokenizer_rows(quick=True)
    assert {row["section"] for row in rows} == {"tokenizer"}
    assert {row["unit"] for row in rows} == {"s", "MB/s", "MB"}
    impls = {row["impl"] for row in rows}
    assert {"course", "tokenizers (1 thread)", "recount reference", "tiktoken"} <= impls
    assert all(
        set(row) == {"section", "case", "impl", "value", "unit", "ratio", "note"} for row in rows
    )
    monkeypatch.setattr(bench, "tokenizer_rows", lambda quick: rows)
    assert bench.main(["--quick"]) == 0
    assert "train vocab 4096" in capsys.readouterr().out
