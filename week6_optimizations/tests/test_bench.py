import json
import random
from datetime import datetime

import numpy as np
import pytest
import torch

from shared.bench import ROW_KEYS, make_row, summarize_ratios
from shared.config import config_from_dict
from shared.errors import CourseError
from week4_training.cli import TRAIN_SECTIONS
from week4_training.data import TokenSplit
from week4_training.evaluate import evaluate
from week4_training.schedule import learning_rate
from week4_training.trainer import Trainer
from week6_optimizations import bench
from week6_optimizations.bench.generation import (
    TRANSFORMERS,
    course_generation,
    generation_rows_for,
    transformers_copy,
    transformers_generation,
    transformers_rows_for,
)
from week6_optimizations.bench.memory import peak_memory_mb
from week6_optimizations.bench.plain_loop import PlainLoop, plain_lr, random_batch
from week6_optimizations.bench.report import bench_path, format_table, write_report
from week6_optimizations.bench.rows import ROW_PROVIDERS, check_row
from week6_optimizations.bench.training import TrainCase, training_cases, training_rows_for
from week6_optimizations.bench.training_run import COURSE, PLAIN, RunPlan, run_rows, step_rows

CPU = torch.device("cpu")
SMALL = {"n_layer": 1, "n_head": 2, "n_embd": 16, "batch_size": 2, "vocab_size": 32}


def small_training_rows(quick):
    cases = [TrainCase(8, **SMALL), TrainCase(8, attention="sdpa", position="rope", **SMALL)]
    return training_rows_for(cases, CPU, rounds=1, warmup=0)


def small_generation_rows(quick):
    shape = {k: v for k, v in SMALL.items() if k != "batch_size"}
    return generation_rows_for([8], CPU, rounds=1, warmup=0, prompt_length=2, shape=shape)


@pytest.fixture
def small_providers(monkeypatch):
    monkeypatch.setitem(ROW_PROVIDERS, "training", small_training_rows)
    monkeypatch.setitem(ROW_PROVIDERS, "generation", small_generation_rows)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """Token caches of the runs below go to a temporary folder, never the repository's data/."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data_cache"))


# ------------------------------------------------------------------ training variants


@pytest.mark.task("6.1", "6.2", "6.3")
def test_training_rows_have_speeds_memory_and_ratios_against_the_baseline():
    rows = small_training_rows(True)
    assert [(r["section"], r["impl"]) for r in rows] == [
        ("training", "naive learned float32"),
        ("training memory", "naive learned float32"),
        ("training", "sdpa rope float32"),
        ("training memory", "sdpa rope float32"),
    ]
    assert all(tuple(r) == ROW_KEYS for r in rows)
    assert all(r["value"] > 0 for r in rows if r["section"] == "training")
    speeds = [r for r in rows if r["section"] == "training"]
    assert speeds[0]["ratio"] == 1.0 and speeds[1]["reference"] == "naive learned float32"
    # one round: the ratio of the round's seconds is the ratio of the speeds
    assert speeds[1]["ratio"] == pytest.approx(speeds[1]["value"] / speeds[0]["value"])
    assert speeds[1]["rounds"] == 1 and speeds[1]["reliable"] is None


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
    cases = [TrainCase(8, **SMALL), TrainCase(8, compile=True, **SMALL)]
    rows = training_rows_for(cases, CPU, rounds=1, warmup=0)
    assert [r["impl"] for r in rows] == ["naive learned float32"] * 2 + [
        "naive learned float32 compile"
    ]
    assert rows[2]["value"] is None and rows[2]["note"] == "n/a: RuntimeError: no C++ compiler"
    with pytest.raises(CourseError, match="float64"):  # outside compile: an error, not a row
        training_rows_for([TrainCase(8, dtype="float64", **SMALL)], CPU, rounds=1, warmup=0)


@pytest.mark.task("6.1", "6.2", "6.3")  # the small rows train rope and sdpa cases
def test_memory_rows_read_times_less_than_the_baseline(monkeypatch):
    from week6_optimizations.bench import training

    measured = iter([(100.0, "peak RSS growth"), (40.0, "peak RSS growth")])
    monkeypatch.setattr(training, "warm_up", lambda step, steps, device: next(measured))
    rows = small_training_rows(True)
    memory = [r for r in rows if r["section"] == "training memory"]
    assert [r["value"] for r in memory] == [100.0, 40.0]
    assert memory[1]["ratio"] == 2.5 and memory[1]["reference"] == "naive learned float32"


def test_peak_memory_sees_a_large_tensor():
    mb, kind = peak_memory_mb(lambda: torch.ones(64, 2**20 // 4).add_(1).sum(), CPU)
    assert kind == "peak RSS growth" and mb >= 60  # a 64 MB tensor was resident


# ------------------------------------------------------------------ generation


@pytest.mark.task("6.4", "6.5")
def test_generation_rows_compare_the_cache_with_full_context():
    rows = small_generation_rows(True)
    assert [r["impl"] for r in rows] == ["full context, naive learned", "kv cache, naive learned"]
    assert rows[0]["case"] == "block 8, 6 new tokens" and rows[0]["ratio"] == 1.0
    assert rows[1]["reference"] == "full context, naive learned"
    assert rows[1]["ratio"] == pytest.approx(rows[1]["value"] / rows[0]["value"])


@pytest.mark.task("6.4", "6.5")
def test_transformers_generates_the_same_tokens_from_the_same_weights(make_gpt):
    model = make_gpt(block_size=16)
    hf = transformers_copy(model)
    x = torch.randint(0, 40, (1, 12), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(hf(x).logits, model(x)[0], rtol=1e-5, atol=1e-5)
    ours = course_generation(model, "kv cache", 3, 13)
    assert transformers_generation(hf, 3, 13) == ours
    assert len(set(ours)) > 2  # decisive weights: a sequence that a wrong context would change


@pytest.mark.task("6.4", "6.5")
def test_transformers_rows_use_transformers_as_the_reference():
    shape = {k: v for k, v in SMALL.items() if k != "batch_size"}
    rows = transformers_rows_for([8], CPU, rounds=1, warmup=0, prompt_length=2, shape=shape)
    assert [r["impl"] for r in rows] == [TRANSFORMERS, "kv cache, naive learned"]
    assert all(r["reference"] == TRANSFORMERS and r["value"] > 0 for r in rows)


def test_transformers_copy_needs_gpt2s_layout(make_gpt):
    with pytest.raises(CourseError, match="naive attention, learned positions and biases"):
        transformers_copy(make_gpt(position="rope"))


# ------------------------------------------------------------------ the plain loop


def tiny_run_config(corpus, out_dir, *overrides):
    values = {
        "data": {"corpus": str(corpus)},
        "tokenizer": {"kind": "bytes"},
        "model": {"block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 32},
        "train": {
            "batch_size": 8,
            "max_iters": 60,
            "lr": 1e-2,
            "min_lr": 1e-3,
            "warmup_iters": 5,
            "eval_interval": 20,
            "log_interval": 5,
            "sample_tokens": 0,
        },
        "run": {"name": "plain", "out_dir": str(out_dir), "device": "cpu", "seed": 7},
    }
    return config_from_dict(values, overrides, sections=TRAIN_SECTIONS)


def play_text(n_lines=400, seed=0):
    """Deterministic play-like text, repetitive enough for a tiny model to learn quickly."""
    rng = random.Random(seed)
    words = ["the", "king", "queen", "lord", "love", "night", "sword", "crown", "good", "thou"]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 6))) for _ in range(n_lines)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(play_text(), encoding="utf-8")
    return path


def tokens_of(text):
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.uint16)


def test_plain_lr_is_the_courses_schedule():
    for step in range(0, 130, 3):
        ours = plain_lr(step, 1e-3, 1e-4, 10, 100)
        assert ours == learning_rate(
            step, lr=1e-3, min_lr=1e-4, warmup_iters=10, lr_decay_iters=100
        )


def test_plain_loop_trains_and_checkpoints_when_the_estimate_improves(corpus, tmp_path):
    cfg = tiny_run_config(corpus, tmp_path).replace("model", vocab_size=257)
    tokens = tokens_of(play_text())
    loop = PlainLoop(cfg, tokens[:-2000], tokens[-2000:], eval_iters=5)
    result = loop.run(tmp_path / "plain")
    assert [step for step, _ in result.estimates] == [0, 20, 40, 60]
    first, last = result.estimates[0][1], result.estimates[-1][1]
    assert last["train"] < first["train"] - 1.0 and last["val"] < first["val"] - 1.0
    assert [step for step, _ in result.train_losses] == list(range(5, 61, 5))
    assert result.train_losses[-1][1] < result.train_losses[0][1]
    saved = torch.load(tmp_path / "plain" / "ckpt.pt", weights_only=False)
    assert saved["step"] > 0 and saved["best_val_loss"] == min(
        e["val"] for _, e in result.estimates
    )


def test_plain_loop_starts_where_the_course_starts(corpus, tmp_path, isolated_cache):
    """Same weights, same first batch: the first step's loss is the course's, bit for bit."""
    cfg = tiny_run_config(corpus, tmp_path)
    trainer = Trainer(cfg, progress=False, log=lambda message: None)
    data = trainer.setup.data
    loop = PlainLoop(trainer.cfg, data.train.tokens, data.val.tokens)
    assert loop.step(0).item() == trainer.train_step()["loss"]


def test_the_estimate_is_of_the_validation_split(corpus, tmp_path):
    """Train on one text, validate on another: the val estimate is near the exact whole-split
    loss of week 4's `evaluate`, far from the training loss, and made of validation batches."""
    cfg = tiny_run_config(corpus, tmp_path, "train.max_iters=80").replace("model", vocab_size=257)
    train = tokens_of("abcd" * 2000)
    val = tokens_of("".join(random.Random(1).choice("abcdwxyz") for _ in range(4000)))
    loop = PlainLoop(cfg, train, val, eval_iters=40)
    loop.run(tmp_path / "plain")
    estimate = loop.estimate_loss()
    exact = evaluate(loop.model, TokenSplit(val, len(val) - 1), block_size=16, batch_size=8)
    assert estimate["val"] == pytest.approx(exact.loss, rel=0.1)
    assert estimate["train"] < 0.1 < 1.0 < estimate["val"]
    # the same numbers again from batches drawn by hand from the validation tokens
    generator = torch.Generator().manual_seed(cfg.run.seed + 1)
    loop.eval_generator = torch.Generator().manual_seed(cfg.run.seed + 1)
    again = loop.estimate_loss()
    for _ in range(40):
        random_batch(train, 16, 8, generator)
    losses = []
    with torch.no_grad():
        loop.model.eval()
        for _ in range(40):
            x, y = random_batch(val, 16, 8, generator)
            losses.append(loop.model(x, y)[1].item())
    assert again["val"] == pytest.approx(float(torch.tensor(losses).mean()), rel=1e-6)


def test_plain_loop_refuses_float16(corpus, tmp_path):
    cfg = tiny_run_config(corpus, tmp_path, "train.dtype=float16").replace("model", vocab_size=257)
    with pytest.raises(CourseError, match="float16 needs a GradScaler; allowed: float32, bfloat16"):
        PlainLoop(cfg, tokens_of("ab" * 100), tokens_of("ab" * 100))


# ------------------------------------------------------------------ course against plain loop


@pytest.fixture
def config_file(corpus, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(
        f"data:\n  corpus: {corpus}\ntokenizer:\n  kind: bytes\n"
        "model:\n  block_size: 16\n  n_layer: 1\n  n_head: 2\n  n_embd: 16\n"
        "train:\n  batch_size: 4\n  max_iters: 100\n  eval_interval: 50\n  sample_tokens: 0\n"
        "run:\n  device: cpu\n",
        encoding="utf-8",
    )
    return path


def test_step_rows_compare_the_trainer_step_with_the_plain_step(config_file, isolated_cache):
    rows = step_rows(rounds=2, warmup=1, config_path=config_file)
    assert [r["impl"] for r in rows] == [COURSE, PLAIN]
    assert all(r["reference"] == PLAIN and r["unit"] == "tokens/s" for r in rows)
    assert rows[0]["case"] == "tiny.yaml, naive attention, float32" and rows[0]["rounds"] == 2


def test_run_rows_time_whole_runs_of_both(config_file, isolated_cache):
    plan = RunPlan(max_iters=4, eval_interval=2, rounds=1, eval_iters=1, corpus_chars=2000)
    rows = run_rows(plan, config_path=config_file)
    assert [r["impl"] for r in rows] == [COURSE, PLAIN]
    assert rows[0]["case"] == "tiny.yaml, 4 steps, eval every 2" and rows[0]["unit"] == "s"
    assert rows[0]["note"].startswith("first 2k chars of corpus.txt; one whole run per round")
    assert rows[1]["ratio"] == 1.0 and rows[0]["value"] > 0


# ------------------------------------------------------------------ the command and the report


@pytest.mark.task("6.1", "6.2", "6.3", "6.4", "6.5")
def test_run_bench_writes_well_formed_json(tmp_path, small_providers, capsys):
    rows, path = bench.run_bench(True, tmp_path, ["training", "generation"])
    report = json.loads(path.read_text())
    assert path.parent == tmp_path and path.suffix == ".json"
    assert report["quick"] is True and report["keys"] == list(ROW_KEYS)
    assert {"cpu", "cores", "torch", "load_average"} <= set(report["machine"])
    assert set(report["method"]) == {"spread_limit", "min_rounds"}
    assert report["rows"] == rows and all(list(r) == list(ROW_KEYS) for r in rows)
    assert {r["section"] for r in rows} == {"training", "training memory", "generation"}


@pytest.mark.task("6.4", "6.5")
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


def test_the_providers_in_order():
    assert list(ROW_PROVIDERS)[:4] == ["tokenizer", "training", "trainer", "generation"]


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
        make_row(
            "training",
            "block 64",
            "naive",
            1234.5,
            "tokens/s",
            reference="naive",
            ratio=summarize_ratios([1.0, 1.0, 1.0]),
        ),
        make_row(
            "training",
            "block 64",
            "sdpa",
            2000.0,
            "tokens/s",
            reference="naive",
            ratio=summarize_ratios([1.2, 1.6, 1.7]),
        ),
        make_row("training", "block 64", "rope", None, "tokens/s", note="n/a: why"),
    ]
    table = format_table(rows).splitlines()
    assert "1,234" in table[2] and "1.00x (1.00-1.00)" in table[2]
    assert "1.60x (1.20-1.70) UNRELIABLE" in table[3] and table[3].rstrip().endswith("naive")
    assert "n/a: why" in table[4]
    assert "higher is better" in table[-1] and "1 of 3 rows" in table[-1]
    now = datetime(2025, 1, 31, 14, 25, 1)
    first = write_report(rows, {}, tmp_path, device="cpu", quick=False, now=now)
    assert first.name == "2025-01-31_142501.json"
    assert bench_path(tmp_path, now).name == "2025-01-31_142501-2.json"  # never overwrites


def test_unknown_section_is_a_course_error(tmp_path):
    with pytest.raises(CourseError, match="allowed are"):
        bench.run_bench(True, tmp_path, ["nope"])
