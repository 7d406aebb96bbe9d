import json
from datetime import datetime

import pytest
import torch

from shared.errors import CourseError
from week6_optimizations import bench
from week6_optimizations.bench.generation import generation_rows_for
from week6_optimizations.bench.memory import peak_memory_mb
from week6_optimizations.bench.report import bench_path, format_table, write_report
from week6_optimizations.bench.rows import ROW_KEYS, ROW_PROVIDERS, check_row, make_row
from week6_optimizations.bench.training import TrainCase, training_cases, training_rows_for

CPU = torch.device("cpu")
SMALL = {"n_layer": 1, "n_head": 2, "n_embd": 16, "batch_size": 2, "vocab_size": 32}


def small_training_rows(quick):
    cases = [TrainCase(8, **SMALL), TrainCase(8, attention="sdpa", position="rope", **SMALL)]
    return training_rows_for(cases, CPU, repeats=1, warmup=0)


def small_generation_rows(quick):
    shape = {k: v for k, v in SMALL.items() if k != "batch_size"}
    return generation_rows_for([8], CPU, repeats=1, warmup=0, prompt_length=2, shape=shape)


@pytest.fixture
def small_providers(monkeypatch):
    monkeypatch.setitem(ROW_PROVIDERS, "training", small_training_rows)
    monkeypatch.setitem(ROW_PROVIDERS, "generation", small_generation_rows)


@pytest.mark.task("6.1")
@pytest.mark.task("6.2")
@pytest.mark.task("6.3")
def test_training_rows_have_speeds_memory_and_ratios_against_the_baseline():
    rows = small_training_rows(True)
    assert [(r["section"], r["impl"]) for r in rows] == [
        ("training", "naive learned float32"),
        ("training memory", "naive learned float32"),
        ("training", "sdpa rope float32"),
        ("training memory", "sdpa rope float32"),
    ]
    assert all(r["value"] > 0 for r in rows if r["section"] == "training")
    speeds = [r for r in rows if r["section"] == "training"]
    assert speeds[0]["ratio"] == 1.0
    assert speeds[1]["ratio"] == pytest.approx(speeds[1]["value"] / speeds[0]["value"])


def test_training_cases_start_with_the_baseline_of_each_block_size():
    quick = training_cases([64, 256], full=False)
    assert [(c.block_size, c.label) for c in quick] == [
        (64, "naive learned float32"),
        (64, "sdpa learned float32"),
        (256, "naive learned float32"),
        (256, "sdpa learned float32"),
    ]
    full = training_cases([64], full=True)
    assert full[0].is_baseline and len(full) == 10
    assert {c.label for c in full} >= {"sdpa rope bfloat16", "sdpa learned float32 compile"}


def test_a_failing_compile_case_is_reported_not_raised(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler\nmore detail")

    monkeypatch.setattr(torch, "compile", broken)
    rows = training_rows_for([TrainCase(8, compile=True, **SMALL)], CPU, repeats=1, warmup=0)
    assert rows[0]["value"] is None and rows[0]["note"] == "n/a: RuntimeError: no C++ compiler"
    with pytest.raises(CourseError, match="float64"):  # outside compile: an error, not a row
        training_rows_for([TrainCase(8, dtype="float64", **SMALL)], CPU, repeats=1, warmup=0)


@pytest.mark.task("6.4")
@pytest.mark.task("6.5")
def test_generation_rows_compare_the_cache_with_full_context():
    rows = small_generation_rows(True)
    assert [r["impl"] for r in rows] == ["full context, naive learned", "kv cache, naive learned"]
    assert rows[0]["case"] == "block 8, 6 new tokens" and rows[0]["ratio"] == 1.0
    assert rows[1]["ratio"] == pytest.approx(rows[1]["value"] / rows[0]["value"])


def test_peak_memory_sees_a_large_tensor():
    mb, kind = peak_memory_mb(lambda: torch.ones(64, 2**20 // 4).add_(1).sum(), CPU)
    assert kind == "peak RSS growth" and mb >= 60  # a 64 MB tensor was resident


@pytest.mark.task("6.1")
@pytest.mark.task("6.2")
@pytest.mark.task("6.3")
@pytest.mark.task("6.4")
@pytest.mark.task("6.5")
def test_run_bench_writes_well_formed_json(tmp_path, small_providers, capsys):
    rows, path = bench.run_bench(True, tmp_path, ["training", "generation"])
    report = json.loads(path.read_text())
    assert path.parent == tmp_path and path.suffix == ".json"
    assert report["quick"] is True and report["keys"] == list(ROW_KEYS)
    assert {"cpu", "cores", "torch"} <= set(report["machine"])
    assert report["rows"] == rows and all(list(r) == list(ROW_KEYS) for r in rows)
    assert {r["section"] for r in rows} == {"training", "training memory", "generation"}


@pytest.mark.task("6.4")
@pytest.mark.task("6.5")
def test_cli_prints_the_table_and_the_file(tmp_path, small_providers, capsys):
    code = bench.main(
        ["--quick", "--out-dir", str(tmp_path), "--only", "generation", "--threads", "1"]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("machine: ") and "kv cache, naive learned" in out
    assert f"wrote {tmp_path}" in out
    assert bench.cli(["--only", "nonsense", "--out-dir", str(tmp_path)]) == 2
    assert "--only nonsense: allowed are tokenizer" in capsys.readouterr().err
    assert bench.cli(["--threads", "0"]) == 2


def test_tokenizer_rows_come_from_week2_or_say_why_not(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "week2_tokenizer.bench", None)  # as if week 2 had none
    (row,) = bench.tokenizer_rows(True)
    assert row["value"] is None and row["note"].startswith("n/a: week2_tokenizer.bench")
    fake = type(sys)("week2_tokenizer.bench")
    fake.tokenizer_rows = lambda quick: [make_row("tokenizer", "c", "course", 1.0, "s")]
    monkeypatch.setitem(sys.modules, "week2_tokenizer.bench", fake)
    assert bench.tokenizer_rows(True)[0]["impl"] == "course"


def test_optional_providers_load_when_present(monkeypatch, tmp_path):
    monkeypatch.setattr(
        bench, "OPTIONAL_PROVIDERS", ["week6_optimizations.bench.rows", "no_such.x"]
    )
    assert bench.load_optional_providers() == ["week6_optimizations.bench.rows"]
    (tmp_path / "provider_needing_more.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(bench, "OPTIONAL_PROVIDERS", ["provider_needing_more"])
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        bench.load_optional_providers()  # present but broken: not silently skipped


def test_rows_and_table_formatting(tmp_path):
    with pytest.raises(ValueError, match="lacks unit"):
        check_row({"section": "s", "case": "c", "impl": "i", "value": 1, "ratio": None, "note": ""})
    rows = [
        make_row("training", "block 64", "naive", 1234.5, "tokens/s", ratio=1.0),
        make_row("training", "block 64", "sdpa", None, "tokens/s", note="n/a: why"),
    ]
    table = format_table(rows).splitlines()
    assert "1,234" in table[2] and "1.00x" in table[2] and "n/a: why" in table[3]
    now = datetime(2025, 1, 31, 14, 25, 1)
    first = write_report(rows, {}, tmp_path, device="cpu", quick=False, now=now)
    assert first.name == "2025-01-31_142501.json"
    assert bench_path(tmp_path, now).name == "2025-01-31_142501-2.json"  # never overwrites


def test_unknown_section_is_a_course_error(tmp_path):
    with pytest.raises(CourseError, match="allowed are"):
        bench.run_bench(True, tmp_path, ["nope"])
