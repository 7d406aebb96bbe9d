"""The commands as a learner runs them: sample, chat (interactive), evaluate, and their errors."""

from __future__ import annotations

import io
import json
import os
import re
import sys

import pytest
import torch
from safetensors.torch import save_file

from shared.errors import run_cli
from week4_training.checkpoint import load_checkpoint
from week5_generation import evaluation
from week5_generation.cli import BACKENDS, main
from week5_generation.evaluation import SamplingPlan, read_prompts
from week5_generation.generate import generate_text
from week5_generation.sampling import GREEDY, SamplingSettings, make_generator
from week5_generation.tests.conftest import save_course_checkpoint

# A command that samples runs the generation loop (5.4), the stream (5.5, text only) and the
# tasks of its settings: temperature (5.1) and top-p (5.3) by default, top-k (5.2) when set;
# greedy runs neither. Each test carries the mark of every task it runs: `make check WEEK=5`.


def sample(*args: str, flags: str = "") -> list[str]:
    """The argv of `sample` on the CPU; `flags` is split on spaces (for values without spaces)."""
    return ["sample", "--device", "cpu", *args, *flags.split()]


def expected_text(checkpoint, prompt: str, n: int, seed: int, settings: SamplingSettings) -> str:
    loaded = load_checkpoint(checkpoint)
    ids = loaded.tokenizer.encode(prompt)
    pieces = generate_text(
        loaded.model, loaded.tokenizer, ids, n, settings, generator=make_generator(seed)
    )
    return prompt + "".join(pieces) + "\n"


@pytest.mark.task("5.1", "5.2", "5.3", "5.4", "5.5")
def test_sample_prints_the_prompt_and_the_seeded_continuation(checkpoint, capsys):
    flags = "--prompt ROMEO: --max-new-tokens 25 --temperature 1.0 --top-k 50 --top-p 0.9"
    assert main(sample("--checkpoint", str(checkpoint), "--seed", "3", flags=flags)) == 0
    out = capsys.readouterr().out
    settings = SamplingSettings(temperature=1.0, top_k=50, top_p=0.9)
    assert out == expected_text(checkpoint, "ROMEO:", 25, 3, settings)
    main(sample("--checkpoint", str(checkpoint), "--seed", "3", flags=flags))
    assert capsys.readouterr().out == out
    main(sample("--checkpoint", str(checkpoint), "--seed", "4", flags=flags))
    assert capsys.readouterr().out != out


@pytest.mark.task("5.1", "5.3", "5.4", "5.5")
def test_sample_without_checkpoint_uses_the_latest_run_and_run_seed(make_checkpoint, capsys):
    older = make_checkpoint("older")
    newer = make_checkpoint("newer")
    newest_time = (newer / "checkpoint.pt").stat().st_mtime + 10
    os.utime(newer / "checkpoint.pt", (newest_time, newest_time))
    assert older.exists()
    assert main(sample("--prompt", "To be", "--max-new-tokens", "10")) == 0
    captured = capsys.readouterr()
    assert f"using {newer} (the most recent run" in captured.err
    # run.seed is 7; the sample section is the default (temperature 0.8, top_p 0.95)
    default = SamplingSettings(temperature=0.8, top_p=0.95)
    assert captured.out == expected_text(newer, "To be", 10, 7, default)


@pytest.mark.task("5.4", "5.5")
def test_the_checkpoints_sample_section_is_the_default_and_flags_override_it(
    make_checkpoint, capsys
):
    run = make_checkpoint("greedy", temperature=0.0, max_new_tokens=6, prompt="JULIET:")
    assert main(sample("--checkpoint", str(run), "--prompt", "")) == 0
    greedy = capsys.readouterr().out
    assert greedy == expected_text(run, "JULIET:", 6, 0, GREEDY)
    main(sample("--checkpoint", str(run), "--max-new-tokens", "2", "--seed", "99"))
    assert capsys.readouterr().out == expected_text(run, "JULIET:", 2, 0, GREEDY)


@pytest.mark.task("5.1", "5.3", "5.4", "5.5")
def test_an_empty_prompt_starts_from_the_end_of_text_token(checkpoint, capsys):
    main(sample("--checkpoint", str(checkpoint), "--max-new-tokens", "8", "--seed", "1"))
    loaded = load_checkpoint(checkpoint)
    pieces = generate_text(
        loaded.model,
        loaded.tokenizer,
        [loaded.tokenizer.eot_id],
        8,
        SamplingSettings(temperature=0.8, top_p=0.95),
        generator=make_generator(1),
    )
    assert capsys.readouterr().out == "".join(pieces) + "\n"


@pytest.mark.task("5.4", "5.5")
def test_stop_strings_cut_the_output(make_checkpoint, capsys):
    run = make_checkpoint("s", temperature=0.0)
    main(sample("--checkpoint", str(run), "--prompt", "O", "--max-new-tokens", "12"))
    full = capsys.readouterr().out[1:-1]  # the greedy continuation without prompt and newline
    stop = full[3:5]
    main(
        sample("--checkpoint", str(run), "--prompt", "O", "--max-new-tokens", "12", "--stop", stop)
    )
    assert capsys.readouterr().out == "O" + full[: full.find(stop)] + "\n"


@pytest.mark.task("5.1", "5.3", "5.4", "5.5")
def test_a_prompt_longer_than_the_context_is_cropped_with_a_notice(checkpoint, capsys):
    long_prompt = "x" * 40  # 40 byte tokens, block_size 16
    flags = f"--prompt {long_prompt} --max-new-tokens 3"
    assert main(sample("--checkpoint", str(checkpoint), flags=flags)) == 0
    captured = capsys.readouterr()
    assert "the prompt is 40 tokens, longer than the context of 16" in captured.err
    assert captured.out.startswith(long_prompt)


@pytest.mark.task("5.4", "5.5")
def test_interactive_answers_every_line_until_end_of_input(checkpoint, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ROMEO:\nJULIET:\n")))
    flags = "--interactive --temperature 0 --max-new-tokens 5"
    assert main(sample("--checkpoint", str(checkpoint), flags=flags)) == 0
    out = capsys.readouterr().out
    romeo = expected_text(checkpoint, "ROMEO:", 5, 0, GREEDY)
    juliet = expected_text(checkpoint, "JULIET:", 5, 0, GREEDY)
    assert out == romeo + juliet


@pytest.mark.task("5.1", "5.3", "5.4", "5.5")
def test_interactive_shows_a_prompt_marker_on_a_terminal(checkpoint, byte_tokenizer):
    from week5_generation.loading import load_source
    from week5_generation.session import interactive, resolve_settings

    source = load_source(str(checkpoint), None, torch.device("cpu"))
    settings = resolve_settings(source.config, max_new_tokens=2)
    out = io.StringIO()
    answered = interactive(source, iter(["a\n"]), settings, make_generator(0), out, True)
    assert answered == 1 and out.getvalue().startswith("a")


def hf_gpt2_state_dict(n_embd=8, n_layer=1, n_positions=32, vocab=50257) -> dict:
    """A random GPT-2 in Hugging Face's layout: Conv1D weights are stored (in, out)."""
    g = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=g) * 0.2

    sd = {
        "transformer.wte.weight": rand(vocab, n_embd),
        "transformer.wpe.weight": rand(n_positions, n_embd),
    }
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        sd |= {
            p + "ln_1.weight": 1 + rand(n_embd),
            p + "ln_1.bias": rand(n_embd),
            p + "attn.c_attn.weight": rand(n_embd, 3 * n_embd),
            p + "attn.c_attn.bias": rand(3 * n_embd),
            p + "attn.c_proj.weight": rand(n_embd, n_embd),
            p + "attn.c_proj.bias": rand(n_embd),
            p + "ln_2.weight": 1 + rand(n_embd),
            p + "ln_2.bias": rand(n_embd),
            p + "mlp.c_fc.weight": rand(n_embd, 4 * n_embd),
            p + "mlp.c_fc.bias": rand(4 * n_embd),
            p + "mlp.c_proj.weight": rand(4 * n_embd, n_embd),
            p + "mlp.c_proj.bias": rand(n_embd),
        }
    sd |= {"transformer.ln_f.weight": 1 + rand(n_embd), "transformer.ln_f.bias": rand(n_embd)}
    return sd


@pytest.fixture
def gpt2_weights(tmp_path):
    folder = tmp_path / "gpt2"
    folder.mkdir()
    save_file(hf_gpt2_state_dict(), folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({"n_head": 2}))
    return folder / "model.safetensors"


@pytest.mark.task("5.1", "5.3", "5.4", "5.5")
def test_gpt2_safetensors_end_to_end(gpt2_weights, runs_dir, capsys):
    from shared.data import fetch
    from week2_tokenizer import Tokenizer
    from week3_model.pretrained import gpt_from_safetensors

    flags = "--checkpoint gpt2 --max-new-tokens 6 --temperature 0"
    assert (
        main(sample("--weights", str(gpt2_weights), "--prompt", "Hello, world", flags=flags)) == 0
    )
    model = gpt_from_safetensors(gpt2_weights).eval()
    tokenizer = Tokenizer.from_gpt2(fetch("gpt2/encoder.json"), fetch("gpt2/vocab.bpe"))
    ids = tokenizer.encode("Hello, world")
    assert ids == [15496, 11, 995]  # GPT-2's own ids for this text
    pieces = generate_text(model, tokenizer, ids, 6, GREEDY)
    assert capsys.readouterr().out == "Hello, world" + "".join(pieces) + "\n"
    # --weights alone also means GPT-2
    assert main(sample("--weights", str(gpt2_weights), "--max-new-tokens", "2")) == 0


def test_weights_that_do_not_fit_gpt2s_tokenizer_are_refused(tmp_path, capsys):
    save_file(hf_gpt2_state_dict(vocab=100), tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps({"n_head": 2}))
    assert run_cli(main, sample("--weights", str(tmp_path / "model.safetensors"))) == 2
    assert "100 token embeddings, GPT-2's tokenizer has 50257" in capsys.readouterr().err


@pytest.mark.task("5.1", "5.3", "5.4")
def test_evaluate_gpt2_weights_writes_its_report_under_runs(
    gpt2_weights, runs_dir, tmp_path, capsys, monkeypatch
):
    small = tmp_path / "small.txt"
    small.write_text("To be, or not to be, that is the question.\n" * 30)
    monkeypatch.setattr(evaluation, "EVAL_PLAN", SamplingPlan(max_new_tokens=4))
    argv = ["evaluate", "--weights", str(gpt2_weights), "--corpus", str(small), "--device", "cpu"]
    assert main(argv) == 0
    report = (runs_dir / "gpt2" / "evaluation.md").read_text()
    assert "# Evaluation of gpt2 (model.safetensors)" in report
    assert "gpt2 (model.safetensors)" in capsys.readouterr().out


@pytest.mark.task("5.1", "5.3", "5.4")
def test_evaluate_writes_a_report_and_prints_a_row_per_run(
    make_checkpoint, byte_tokenizer, corpus, capsys
):
    from week1_setup.split import split_text
    from week4_training.data import encode_split
    from week4_training.evaluate import evaluate

    first = make_checkpoint("first")
    second = make_checkpoint("second")
    assert main(["evaluate", str(first), str(second), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    table = captured.out.splitlines()
    assert table[0].split("|")[1].strip() == "run" and "bits/byte" in table[0]
    assert [row.split("|")[1].strip() for row in table[2:]] == [str(first), str(second)]
    val = encode_split(byte_tokenizer, split_text(corpus.read_text())[1])
    expected = evaluate(load_checkpoint(first).model, val, block_size=16, batch_size=4)
    report = (first / "evaluation.md").read_text()
    assert re.search(rf"\| bits per byte +\| {expected.bits_per_byte:.4f} ", report)
    assert f"{expected.bits_per_byte:.4f}" in table[2]
    prompts = read_prompts()
    assert report.count("### Prompt ") == 2 * len(prompts)
    assert "repetition rate" in report and "distinct-2" in report
    assert f"report: {first / 'evaluation.md'}" in captured.err


@pytest.mark.task("5.1", "5.3", "5.4")
def test_evaluate_without_arguments_takes_the_latest_run(checkpoint, capsys, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# a comment\nROMEO:\\n\n\n")
    assert read_prompts(prompts) == ["ROMEO:\n"]
    assert main(["evaluate", "--prompts", str(prompts), "--device", "cpu"]) == 0
    assert (checkpoint / "evaluation.md").read_text().count("### Prompt 'ROMEO:'") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--checkpoint", "runs/nope"], "checkpoint runs/nope: no such run folder or .pt file"),
        (["--temperature", "-1"], "sample.temperature: must be a number >= 0"),
        (["--top-p", "1.5"], "sample.top_p: must be a number in (0, 1]"),
        (["--top-p", "0"], "sample.top_p: must be a number in (0, 1]"),
        (["--top-k", "0"], "sample.top_k: must be an integer >= 1"),
        (["--max-new-tokens", "0"], "sample.max_new_tokens: must be an integer >= 1"),
        (["--checkpoint", "gpt2"], "CKPT=gpt2 needs GPT-2's weights: run `make gpt2` to fetch"),
        (
            ["--checkpoint", "gpt2", "--weights", "missing.safetensors"],
            "missing.safetensors: GPT-2 weights not found; download them from https://hugging",
        ),
        (["--weights", "w.safetensors", "--checkpoint", "runs/x"], "--weights is for the GPT-2"),
        (["--decoder", "beam"], "unknown decoder 'beam'"),
        # a byte that is not UTF-8 on the command line reaches Python as a surrogate escape
        (["--prompt", "ab\udcffc"], "sample.prompt: must be UTF-8 text, but its byte at offset 2"),
        (["--stop", "\udcfe"], "sample.stop: must be UTF-8 text, but its byte at offset 0 is"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    checkpoint, args, message, capsys, monkeypatch, tmp_path
):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))  # no `make gpt2` done there
    argv = (
        sample("--checkpoint", str(checkpoint), *args)
        if "--checkpoint" not in args
        else sample(*args)
    )
    assert run_cli(main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_no_runs_at_all_is_a_clear_error(runs_dir, capsys):
    assert run_cli(main, sample("--prompt", "x")) == 2
    assert "train one first: make train" in capsys.readouterr().err


def test_a_backend_that_cannot_load_says_where_it_comes_from(checkpoint, monkeypatch, capsys):
    from importlib.metadata import EntryPoint

    missing = EntryPoint("mlx", "week6_optimizations.not_here_yet:sample", BACKENDS.group)
    monkeypatch.setattr(BACKENDS, "_listed", {**BACKENDS.listed(), "mlx": missing})
    monkeypatch.setattr(BACKENDS, "_entries", {"torch": BACKENDS.get("torch")})
    assert run_cli(main, sample("--backend", "mlx", "--prompt", "x")) == 2
    err = capsys.readouterr().err
    assert (
        "--backend mlx: sampling backend 'mlx' is provided by week6_optimizations.not_here" in err
    )
    assert err.rstrip().endswith("use --backend torch")
    assert run_cli(main, sample("--backend", "jax")) == 2
    assert "unknown sampling backend 'jax'; known: mlx, torch" in capsys.readouterr().err


def test_a_missing_prompt_file_is_a_clear_error(checkpoint, tmp_path, capsys):
    assert run_cli(main, ["evaluate", "--prompts", str(tmp_path / "none.txt")]) == 2
    assert "prompt file not found" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n")
    assert run_cli(main, ["evaluate", "--prompts", str(empty)]) == 2
    assert "holds no prompts" in capsys.readouterr().err


@pytest.mark.task("5.1", "5.3", "5.4", "5.5")
def test_a_seed_beyond_what_generators_take_is_one_line(checkpoint, capsys):
    from shared.sections import MAX_SEED

    assert run_cli(main, sample("--checkpoint", str(checkpoint), "--seed", str(MAX_SEED + 1))) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: sample.seed: must be an integer from 0 to 9223372036854775807")
    assert err.count("\n") == 1
    flags = ["--seed", str(MAX_SEED), "--max-new-tokens", "2"]
    assert run_cli(main, sample("--checkpoint", str(checkpoint), *flags)) == 0


@pytest.mark.task("5.4", "5.5")
def test_interactive_input_that_is_not_utf8_names_stdin_and_the_offset(
    checkpoint, monkeypatch, capsys
):
    stdin = io.TextIOWrapper(io.BytesIO("ROMEO:\nCafé\n".encode("latin-1")))
    monkeypatch.setattr(sys, "stdin", stdin)
    flags = "--interactive --temperature 0 --max-new-tokens 2"
    assert run_cli(main, sample("--checkpoint", str(checkpoint), flags=flags)) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith("ROMEO:")  # the line before it was answered
    assert captured.err.endswith("error: stdin: not UTF-8 text (bad byte at offset 10); "
                                 "type or pipe UTF-8 text\n")  # fmt: skip


def test_input_lines_reads_utf8_whatever_the_locale():
    from week5_generation.session import input_lines

    lines = list(input_lines(io.BytesIO("né\r\n☃\nlast".encode())))
    assert lines == ["né\r\n", "☃\n", "last"]


def test_a_prompts_file_that_is_not_utf8_names_the_file_and_the_offset(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_bytes(b"ROMEO:\n\xe9t\xe9\n")
    assert run_cli(main, ["evaluate", "--prompts", str(prompts)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {prompts}: not UTF-8 text (bad byte at offset 7)\n"


@pytest.mark.task("5.1", "5.3", "5.4")
def test_evaluate_scores_with_the_runs_own_dtype(
    runs_dir, byte_tokenizer, corpus, capsys, monkeypatch
):
    from week1_setup.split import split_text
    from week4_training.checkpoint import read_checkpoint, save_checkpoint
    from week4_training.data import encode_split
    from week4_training.evaluate import evaluate
    from week5_generation.loading import load_source

    run = save_course_checkpoint(runs_dir / "bf16", byte_tokenizer, corpus)
    document = read_checkpoint(run)
    document["config"]["train"]["dtype"] = "bfloat16"
    save_checkpoint(run / "checkpoint.pt", document)
    monkeypatch.setattr(evaluation, "EVAL_PLAN", SamplingPlan(max_new_tokens=2))
    assert main(["evaluate", str(run), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    val = encode_split(byte_tokenizer, split_text(corpus.read_text())[1])
    model = load_checkpoint(run).model
    bf16 = evaluate(model, val, block_size=16, batch_size=4, dtype="bfloat16")
    f32 = evaluate(model, val, block_size=16, batch_size=4)
    assert f"{bf16.bits_per_byte:.4f}" in captured.out.splitlines()[2]
    source = load_source(str(run), None, torch.device("cpu"))
    plan = SamplingPlan(max_new_tokens=2, seeds=(1,))
    exact = evaluation.evaluate_source(source, ["x"], torch.device("cpu"), plan=plan)
    assert (exact.loss, exact.bits_per_byte) == (bf16.loss, bf16.bits_per_byte)
    assert exact.loss != f32.loss  # the test can tell the two dtypes apart
    report = (run / "evaluation.md").read_text()
    assert re.search(r"\| dtype \(autocast\) +\| bfloat16 ", report)
    assert re.search(r"samples: +\d+%", captured.err)  # a progress bar on stderr


def test_the_sample_section_hands_the_sampler_one_settings_value():
    from shared.config import ConfigError
    from week5_generation.config import SampleConfig

    assert SampleConfig(temperature=0.5, top_k=7, top_p=None).sampling == SamplingSettings(0.5, 7)
    assert SampleConfig().sampling == SamplingSettings(temperature=0.8, top_p=0.95)
    with pytest.raises(ConfigError, match="^top_k: must be an integer >= 1"):
        SampleConfig(top_k=0)


@pytest.mark.task("5.4")
def test_the_report_shows_the_plan_the_samples_were_drawn_with(checkpoint):
    from week5_generation.loading import load_source

    source = load_source(str(checkpoint), None, torch.device("cpu"))
    plan = SamplingPlan(max_new_tokens=3, settings=GREEDY, seeds=(5,))
    result = evaluation.evaluate_source(source, ["ROMEO:"], torch.device("cpu"), plan=plan)
    assert [(s.seed, len(s.tokens) <= 3) for s in result.samples] == [(5, True)]
    report = evaluation.render_report(result)
    assert "Settings: max_new_tokens=3, temperature=0.0, top_k=None, top_p=None; seeds 5." in report


def test_the_help_lists_the_backends_and_decoders_of_the_tables(capsys):
    from week5_generation.generate import DECODERS

    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"{', '.join(DECODERS.names())} (the tiny_gpt.decoder table" in help_text
    assert f"{', '.join(BACKENDS.names())} (the tiny_gpt.sampling_backend table" in help_text
