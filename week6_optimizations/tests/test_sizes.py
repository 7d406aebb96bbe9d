"""The size dial (sizes.py) and `make size` (size_config.py): the rule, exactly; the config it
writes, which builds and trains; and every refusal in one line."""

from __future__ import annotations

import math

import pytest
import yaml

import week2_tokenizer  # noqa: F401 - registers the tokenizer section
import week4_training.config  # noqa: F401 - registers the train section
from shared.config import load_config
from shared.errors import CourseError, run_cli
from shared.paths import CONFIGS_DIR
from shared.runs import read_metrics
from week3_model.summary import meta_model, model_config
from week4_training.cli import TRAIN_SECTIONS
from week4_training.trainer import Trainer
from week6_optimizations import size_config
from week6_optimizations.size_config import main, parse_depth, write_size_config
from week6_optimizations.sizes import Size, learning_rate, size_for_depth

GPT2_SMALL = CONFIGS_DIR / "gpt2-small.yaml"
MODERN = CONFIGS_DIR / "modern.yaml"
TASKS_OF_A_RUN = ("4.1", "4.2", "4.3", "4.4", "4.5", "4.6")
ROPE_TASKS = ("6.1", "6.2")  # modern.yaml's rotary positions


# ------------------------------------------------------------------ the rule


@pytest.mark.parametrize("depth", range(1, 49))
def test_depth_sets_width_heads_and_rate_exactly(depth):
    size = size_for_depth(depth)
    assert (size.n_embd, size.n_head, size.head_size) == (64 * depth, depth, 64)
    assert size.lr == pytest.approx(6e-4 * math.sqrt(12 / depth), rel=1e-12)
    if depth > 1:
        assert size.lr < size_for_depth(depth - 1).lr  # wider: a smaller step


def test_depth_12_is_gpt2_small_at_gpt2_smalls_rate():
    assert size_for_depth(12) == Size(depth=12, n_embd=768, n_head=12, lr=6e-4)
    assert learning_rate(768) == 6e-4 and learning_rate(4 * 768) == 3e-4


def test_nanochats_own_head_dim_rounds_the_width_up():
    """nanochat's default head size is 128: depth 20 is its 1280-wide, 10-head model, and a
    width that 128 does not divide is rounded up (5 x 64 = 320 -> 384, 3 heads)."""
    d20 = size_for_depth(20, head_dim=128)
    assert (d20.n_embd, d20.n_head) == (1280, 10)
    d5 = size_for_depth(5, head_dim=128)
    assert (d5.n_embd, d5.n_head, d5.head_size) == (384, 3, 128)


@pytest.mark.parametrize("text", ["0", "-1", "abc", "1.5", "", " ", "2 3", "1e3", "٣"])
def test_a_depth_that_is_no_positive_integer_is_one_line(text):
    with pytest.raises(CourseError, match=r"^DEPTH=.*: the depth must be a positive integer"):
        parse_depth(text)
    with pytest.raises(CourseError, match="must be a positive integer"):
        size_for_depth(0)


def test_surrounding_spaces_are_forgiven():
    assert parse_depth(" 12 ") == 12


# ------------------------------------------------------------------ the config it writes


def test_the_dial_at_depth_12_on_gpt2_small_gives_back_gpt2_small(tmp_path):
    out, config, parameters = write_size_config(12, GPT2_SMALL, tmp_path / "d12.yaml")
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    original = yaml.safe_load(GPT2_SMALL.read_text(encoding="utf-8"))
    assert written["model"] == original["model"] and written["train"] == original["train"]
    assert written["run"]["name"] == "size_d12" and parameters == 124_439_808
    assert config.train.lr == 6e-4 and config.train.min_lr == 6e-5


def test_a_written_config_loads_and_counts_as_make_params_does(tmp_path):
    out, config, parameters = write_size_config(6, MODERN, tmp_path / "d6.yaml")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Written by `make size DEPTH=6 BASE=")
    assert f"{parameters:,} parameters" in text
    loaded = load_config(out, sections=TRAIN_SECTIONS)
    model, train = loaded.model, loaded.train
    assert (model.n_layer, model.n_embd, model.n_head) == (6, 384, 6)
    assert model.n_kv_head == 3  # modern.yaml's 2 query heads per key/value head, kept
    assert model.position == "rope" and model.mlp == "swiglu"  # the rest is the base's
    assert train.lr == 0.0008485 and train.min_lr == 0.00008485  # 4 figures; the base's lr / 10
    assert meta_model(model_config(str(out), [], None)).num_parameters() == parameters


def test_a_d_ff_of_the_base_is_dropped_so_the_mlp_follows_the_width(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("model:\n  d_ff: 512\n  n_layer: 2\n", encoding="utf-8")
    out, config, _ = write_size_config(3, base, tmp_path / "d3.yaml")
    assert config.model.d_ff is None
    assert "d_ff" not in yaml.safe_load(out.read_text(encoding="utf-8"))["model"]
    assert config.train.min_lr == pytest.approx(config.train.lr / 10, rel=1e-3)  # defaults


def test_a_depth_the_bases_key_value_heads_do_not_divide_is_one_line(tmp_path):
    with pytest.raises(CourseError, match=r"^DEPTH=5: gives 5 heads, which the base's 2 query"):
        write_size_config(5, MODERN, tmp_path / "d5.yaml")
    assert not (tmp_path / "d5.yaml").exists()


def test_an_existing_file_is_kept_unless_overwrite_is_asked(tmp_path):
    out = tmp_path / "mine.yaml"
    out.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(CourseError, match=r"mine.yaml exists; OVERWRITE=1 replaces it"):
        write_size_config(2, MODERN, out)
    assert out.read_text(encoding="utf-8") == "# mine\n"
    write_size_config(2, MODERN, out, overwrite=True)
    assert "n_layer: 2" in out.read_text(encoding="utf-8")


def test_the_command_writes_the_default_path_and_says_what_it_wrote(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(size_config, "CONFIGS_DIR", tmp_path)
    assert run_cli(main, ["--depth=4", f"--base={GPT2_SMALL}"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {tmp_path / 'size_d4.yaml'}: depth 4, n_embd 256, n_head 4" in printed
    assert "lr 0.001039" in printed and "make train CFG=" in printed
    assert run_cli(main, ["--depth=4", f"--base={GPT2_SMALL}"]) == 2  # exists now
    assert run_cli(main, ["--depth=4", f"--base={GPT2_SMALL}", "--overwrite=1"]) == 0
    assert "exists; OVERWRITE=1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--depth=twelve"], "DEPTH=twelve: the depth must be a positive integer"),
        (["--depth=2", "--base=nope.yaml"], "nope.yaml: config file not found"),
        (["--depth=2", "--out=/no/such/folder/x.yaml"], "the folder /no/such/folder does not"),
        (["--depth=2", "--overwrite=0"], "OVERWRITE=0: allowed values are 1, yes, true"),
        (["--depth=3"], "DEPTH=3: gives 3 heads, which the base's 2 query heads"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(arguments, message, tmp_path, capsys):
    out = [] if any(a.startswith("--out") for a in arguments) else [f"--out={tmp_path / 'x'}"]
    before = sorted(CONFIGS_DIR.iterdir())
    assert run_cli(main, [*arguments, *out]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1
    assert sorted(CONFIGS_DIR.iterdir()) == before and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ it trains


@pytest.mark.task(*TASKS_OF_A_RUN, *ROPE_TASKS)
def test_a_dialled_config_builds_and_trains_two_steps(tmp_path, monkeypatch):
    """modern.yaml at depth 2, on a small text with byte tokens and a short context so the run
    takes a second; the dial's model and learning rate are what train."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "text.txt"
    corpus.write_text("ROMEO: what light through yonder window breaks?\n" * 60, encoding="utf-8")
    out, _, _ = write_size_config(2, MODERN, tmp_path / "d2.yaml")
    overrides = [
        f"data.corpus={corpus}",
        "tokenizer.kind=bytes",
        "model.block_size=32",
        "train.batch_size=2",
        "train.max_iters=2",
        "train.warmup_iters=0",
        "train.log_interval=1",
        "train.eval_interval=2",
        "train.sample_tokens=0",
        f"run.out_dir={tmp_path / 'runs'}",
    ]
    cfg = load_config(out, overrides, sections=TRAIN_SECTIONS)
    result = Trainer(cfg, progress=False, log=lambda _: None).run()
    assert result.step == 2 and math.isfinite(result.best_val_loss)
    rows = read_metrics(result.run_dir / "metrics.jsonl")
    assert [r["lr"] for r in rows if "loss" in r][0] == pytest.approx(0.001470)  # depth 2's
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text(encoding="utf-8"))
    assert (saved["model"]["n_layer"], saved["model"]["n_embd"], saved["model"]["n_head"]) == (
        2,
        128,
        2,
    )
