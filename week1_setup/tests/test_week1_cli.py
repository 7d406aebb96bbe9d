"""Week 1's commands: env, data, explore and baseline, as a learner runs them."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import pytest
import torch

from shared.data import group_files, read_text
from shared.errors import run_cli
from week1_setup import environment
from week1_setup.bigram import ByteBigram, bigram_baseline
from week1_setup.cli import main
from week1_setup.explore import corpus_stats
from week1_setup.split import split_text

# The course files: the mirror CI points at, else ../shared/data beside the repository.
SHARED_DATA = Path(
    os.environ.get("COURSE_DATA_MIRROR") or Path(__file__).resolve().parents[3] / "shared" / "data"
).resolve()


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text(
        "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n" * 20
    )
    return path


def test_env_reports_versions_and_the_course_device(capsys):
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert f"torch          {torch.__version__}" in out
    assert (
        "course device  cpu" in out or "course device  cuda" in out or "course device  mps" in out
    )


def test_env_names_a_missing_library_and_fails(monkeypatch, capsys):
    monkeypatch.setattr(environment, "REQUIRED", [*environment.REQUIRED, "no_such_library_xyz"])
    assert main(["env"]) == 1
    assert "missing: no_such_library_xyz" in capsys.readouterr().out


def test_env_describes_a_cuda_gpu_and_missing_mlx(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake GPU 9000")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    monkeypatch.setitem(sys.modules, "mlx", None)
    monkeypatch.setitem(sys.modules, "mlx.core", None)
    rendered = environment.environment_report().render()
    assert "Fake GPU 9000 (bfloat16: yes)" in rendered
    assert "course device  cuda (autocast dtypes: float32, bfloat16, float16)" in rendered
    assert "mlx not installed" in rendered


def test_env_reports_mlx_device_when_present(monkeypatch):
    fake_core = types.SimpleNamespace(default_device=lambda: "Device(gpu, 0)", __version__="9.9")
    fake_mlx = types.ModuleType("mlx")
    fake_mlx.core = fake_core
    monkeypatch.setitem(sys.modules, "mlx", fake_mlx)
    monkeypatch.setitem(sys.modules, "mlx.core", fake_core)
    rendered = environment.environment_report().render()
    assert "mlx device     Device(gpu, 0)" in rendered and "mlx            9.9" in rendered


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data beside the repo")
def test_data_fetches_every_course_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(SHARED_DATA))
    assert main(["data"]) == 0
    assert all((tmp_path / name).is_file() for name in group_files())
    assert capsys.readouterr().out.count(str(tmp_path)) == len(group_files())
    assert not (tmp_path / "gpt2" / "model.safetensors").exists()  # 548 MB: only `make gpt2`


def test_explore_prints_stats_and_writes_a_png(corpus, tmp_path, capsys):
    assert main(["explore", "--corpus", str(corpus), "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "distinct chars   " in out and "most common words: more (40)" in out
    png = tmp_path / "out" / "char_frequency.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_corpus_stats_counts_exactly():
    stats = corpus_stats("ab é\nab\n")
    assert (stats.n_bytes, stats.n_chars, stats.n_lines, stats.n_distinct_chars) == (9, 8, 2, 5)
    assert stats.top_words[0] == ("ab", 2) and stats.n_words == 3
    assert corpus_stats("no newline").n_lines == 1


@pytest.mark.task("1.2", "1.3")
def test_baseline_scores_the_validation_split(corpus, capsys):
    assert main(["baseline", "--corpus", str(corpus), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    train, val = split_text(read_text(corpus))
    expected = ByteBigram(0.1).fit(train.encode()).bits_per_byte(val.encode())
    assert result["val_bits_per_byte"] == pytest.approx(expected)
    assert result["val_bytes"] == len(val.encode())
    assert bigram_baseline(str(corpus))["train_bytes"] == len(train.encode())


def test_a_missing_corpus_is_one_line_and_exit_2(tmp_path, capsys):
    code = run_cli(main, ["baseline", "--corpus", str(tmp_path / "none.txt")])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: corpus ")
