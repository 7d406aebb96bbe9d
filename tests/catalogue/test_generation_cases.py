"""Catalogue: sampling, chat, the evaluation harness (week 5), MLX and multi-process runs (week 6).

Each case is a bad input or a fault a learner met; the course answers with one line that names the
file, knob or value (and what is allowed), a non-zero exit, no traceback, or does the right thing.
The runs they read are built once per module: a tiny byte-level model trained for a few steps in
bfloat16 (so that evaluating in float32 would show), and a tiny MLX run.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch

from tests.catalogue.harness import (
    ROOT,
    Snapshot,
    assert_interrupted,
    assert_refused,
    course,
    interrupted,
    make,
)

SPEAKERS = ["ROMEO", "JULIET", "NURSE", "FRIAR LAURENCE"]
WORDS = ["love", "night", "light", "name", "rose", "death", "sweet", "heaven"]


def play_text(n_lines: int = 240) -> str:
    """About 12 KB of play-shaped text (as tests/conftest.py writes it)."""
    lines = []
    for i in range(n_lines):
        a, b = WORDS[i % 8], WORDS[(i * 3 + 1) % 8]
        lines.append(f"{SPEAKERS[i % 4]}:\nO {a}, my {b}, what {a} is this?\n\n")
    return "".join(lines)


def tiny_config(folder: Path, name: str, corpus: Path, **train) -> Path:
    """A byte-level 2-layer, 32-wide GPT config file, 40 steps (enough for bfloat16 and float32
    evaluations to differ in the 4th decimal); `train` changes its train section."""
    settings = {
        "batch_size": 8,
        "max_iters": 40,
        "warmup_iters": 1,
        "lr_decay_iters": 40,
        "lr": 3.0e-3,
        "min_lr": 3.0e-4,
        "eval_interval": 20,
        "log_interval": 10,
        "sample_tokens": 0,
        **train,
    }
    body = "\n".join(f"  {key}: {value}" for key, value in settings.items())
    text = f"""data:
  corpus: {corpus}
tokenizer:
  kind: bytes
model:
  block_size: 32
  n_layer: 2
  n_head: 2
  n_embd: 32
  dropout: 0.0
train:
{body}
run:
  name: {name}
  out_dir: {folder / "runs"}
  seed: 7
  device: cpu
"""
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Workspace:
    """A folder with a corpus, a token cache, and the runs the cases read (built once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.corpus = root / "play.txt"
        self.corpus.write_text(play_text(), encoding="utf-8")
        self.env = {"COURSE_DATA_DIR": str(root / "cache")}
        self.config = tiny_config(root, "tiny", self.corpus, dtype="bfloat16")
        self.run = root / "runs" / "tiny"

    def train(self) -> None:
        """The torch run, trained in this process through week 4's Trainer."""
        import week2_tokenizer  # noqa: F401 - registers the config sections
        import week3_model  # noqa: F401
        import week4_training.config  # noqa: F401
        from shared.config import load_config
        from week4_training.trainer import Trainer

        previous = os.environ.get("COURSE_DATA_DIR")
        os.environ["COURSE_DATA_DIR"] = self.env["COURSE_DATA_DIR"]
        try:
            Trainer(load_config(self.config), progress=False, log=lambda _: None).run()
        finally:
            if previous is None:
                del os.environ["COURSE_DATA_DIR"]
            else:
                os.environ["COURSE_DATA_DIR"] = previous

    def course(self, *args: str, **kwargs):
        return course(*args, env=self.env, **kwargs)

    def sample(self, *flags: str, checkpoint: Path | None = None, **kwargs):
        """`make sample` on the tiny run, as python -m week5_generation sample."""
        run = self.run if checkpoint is None else checkpoint
        args = ["week5_generation", "sample", "--checkpoint", str(run), "--device", "cpu"]
        return self.course(*args, *flags, **kwargs)

    def copy_run(self, name: str) -> Path:
        target = self.root / "runs" / name
        shutil.copytree(self.run, target)
        return target


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    space = Workspace(tmp_path_factory.mktemp("generation"))
    space.train()
    return space


@pytest.fixture(scope="module")
def mlx_run(workspace):
    """A tiny MLX run through its real command (2 steps), and what that command printed."""
    pytest.importorskip("mlx.core")
    config = tiny_config(
        workspace.root, "mlx", workspace.corpus, max_iters=2, eval_interval=2, compile="false"
    )
    with config.open("a", encoding="utf-8") as handle:
        handle.write("  backend: mlx\n")
    result = workspace.course("week6_optimizations.mlx_port", "train", "--config", str(config))
    assert result.returncode == 0, result
    return workspace.root / "runs" / "mlx", result


def greedy_text(workspace: Workspace, prompt: str, n: int) -> str:
    """What temperature 0 prints for `prompt` (computed here, as the reference)."""
    from week4_training.checkpoint import load_checkpoint
    from week5_generation.generate import generate_text
    from week5_generation.sampling import GREEDY

    loaded = load_checkpoint(workspace.run)
    ids = loaded.tokenizer.encode(prompt)
    return prompt + "".join(generate_text(loaded.model, loaded.tokenizer, ids, n, GREEDY))


# ----------------------------------------------------------------------------- case 1


def test_huge_sample_seed_is_one_line(workspace):
    """`make sample SEED=99999999999999999999999` ended in a traceback from PyTorch."""
    result = make("sample", f"CKPT={workspace.run}", "SEED=99999999999999999999999", "N=2",
                  env=workspace.env)  # fmt: skip
    assert_refused(result, "sample.seed", "99999999999999999999999", str(2**63 - 1), code=2)


# ----------------------------------------------------------------------------- case 2


@pytest.mark.parametrize(
    ("temperature", "backend"), [("1e-300", "torch"), ("5e-324", "mlx")]
)  # both values reach both samplers in their unit tests; here each command runs once
def test_a_tiny_temperature_samples_greedily(workspace, temperature, backend):
    """`TEMP=1e-300` and `TEMP=5e-324` overflowed the probabilities into NaN."""
    if backend == "mlx":
        pytest.importorskip("mlx.core")
    result = workspace.sample("--prompt", "ROMEO:", "--max-new-tokens", "12", "--temperature",
                              temperature, "--seed", "3", "--backend", backend)  # fmt: skip
    assert result.returncode == 0, result
    assert result.stdout == greedy_text(workspace, "ROMEO:", 12) + "\n"  # MLX's greedy = torch's


# ----------------------------------------------------------------------------- case 3


def test_non_utf8_stdin_to_chat_is_one_line(workspace):
    """`make chat` with bytes that are not UTF-8 on stdin ended in a UnicodeDecodeError."""
    bad = workspace.sample("--interactive", "--max-new-tokens", "3", stdin=b"ROMEO:\nJUL\xffIET\n")
    assert_refused(bad, "stdin", "not UTF-8", "offset 10", code=2)
    assert bad.stdout.startswith("ROMEO:")  # the lines before it were answered


def test_non_utf8_prompts_file_is_one_line(workspace, tmp_path):
    """A prompts file for `make evaluate` that is not UTF-8 ended in a UnicodeDecodeError."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_bytes("ROMEO:\nCaf\u00e9\n".encode("latin-1"))
    result = workspace.course("week5_generation", "evaluate", str(workspace.run), "--prompts",
                              str(prompts))  # fmt: skip
    assert_refused(result, str(prompts), "not UTF-8", "offset 10", code=2)


# ----------------------------------------------------------------------------- case 4


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def test_ctrl_c_while_sampling_is_one_line(workspace):
    """Ctrl-C in `make sample` printed a traceback from inside the model."""
    args = _python("week5_generation", "sample", "--checkpoint", str(workspace.run), "--prompt",
                   "ROMEO:", "--max-new-tokens", "100000", "--device", "cpu")  # fmt: skip
    assert_interrupted(interrupted(args, after="ROMEO:", env=workspace.env))


def test_ctrl_c_in_chat_is_one_line(workspace):
    """Ctrl-C in `make chat`, waiting for the next line, printed a traceback."""
    args = _python("week5_generation", "sample", "--interactive", "--checkpoint",
                   str(workspace.run), "--max-new-tokens", "2", "--device", "cpu")  # fmt: skip
    result = interrupted(args, after="ROMEO:", env=workspace.env, stdin=b"ROMEO:\n")
    assert_interrupted(result)


def test_ctrl_c_while_evaluating_is_one_line(workspace):
    """Ctrl-C in `make evaluate` printed a traceback."""
    args = _python("week5_generation", "evaluate", str(workspace.run), "--device", "cpu")
    result = interrupted(args, after="evaluating", env=workspace.env)
    assert_interrupted(result)


# ----------------------------------------------------------------------------- cases 5, 6, 7


@pytest.fixture(scope="module")
def evaluated(workspace):
    """`make evaluate CKPT="<run> <copy>"`: the harness on two runs through the Makefile."""
    other = workspace.copy_run("copy")
    return make("evaluate", f"CKPT={workspace.run} {other}", env=workspace.env), other


def figures(text: str) -> dict[str, str]:
    """loss, perplexity and bits per byte as printed by week 4's eval or in evaluation.md."""
    found = {}
    for key, pattern in (
        ("loss", r"loss[^\n|]*?\|? +([\d.]+)"),
        ("perplexity", r"perplexity +\|? *([\d.]+)"),
        ("bits per byte", r"bits per byte +\|? *([\d.]+)"),
    ):
        match = re.search(pattern, text)
        assert match, (key, text)
        found[key] = match.group(1)
    return found


def test_evaluate_gives_week4s_exact_figures(workspace, evaluated):
    """`make evaluate` scored in float32 and disagreed with `make eval` in the 4th decimal."""
    from week1_setup.split import split_text
    from week4_training.checkpoint import load_checkpoint
    from week4_training.data import encode_split
    from week4_training.evaluate import evaluate

    result, _ = evaluated
    assert result.returncode == 0, result
    week4 = workspace.course("week4_training", "eval", "--checkpoint", str(workspace.run))
    assert week4.returncode == 0, week4
    report = (workspace.run / "evaluation.md").read_text(encoding="utf-8")
    assert figures(report) == figures(week4.stdout)
    # the case can fail: this run's float32 figures differ from its bfloat16 ones
    loaded = load_checkpoint(workspace.run)
    split = encode_split(loaded.tokenizer, split_text(workspace.corpus.read_text())[1])
    batch_size = loaded.config.train.batch_size
    in_float32 = evaluate(
        loaded.model, split, block_size=32, batch_size=batch_size, device="cpu", dtype="float32"
    )
    printed = {"loss": f"{in_float32.loss:.4f}", "perplexity": f"{in_float32.perplexity:.2f}"}
    printed["bits per byte"] = f"{in_float32.bits_per_byte:.4f}"
    assert printed != figures(week4.stdout)


def test_evaluate_takes_the_ckpt_knob(workspace, evaluated):
    """`make evaluate` said 'choose another with CKPT=' but took CKPTS."""
    result, other = evaluated
    assert result.returncode == 0, result
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in table[2:]] == [str(workspace.run), str(other)]
    assert "CKPTS" not in result.output


def test_evaluate_shows_its_progress(evaluated):
    """`make evaluate` showed nothing for 30 s and more."""
    result, _ = evaluated
    assert re.search(r"samples: +\d+%\|[^|]*\| *\d/8", result.stderr), result


def test_mlx_evaluation_shows_its_progress(mlx_run):
    """MLX evaluation showed nothing for 30 s and more."""
    _, result = mlx_run
    assert re.search(r"validation: +\d+%\|[^|]*\| *\d+/\d+", result.stderr), result


# ----------------------------------------------------------------------------- case 8


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"<!DOCTYPE html><title>404 Not Found</title>",  # a saved error page
        lambda data: b"",  # an empty file
    ],
    ids=["garbage", "empty"],
)
def test_damaged_gpt2_weights_are_one_line(tmp_path, damage):
    """Garbage `WEIGHTS=` safetensors ended in a SafetensorError traceback."""
    from safetensors.torch import save_file

    weights = tmp_path / "model.safetensors"
    save_file({"wte.weight": torch.zeros(4, 2), "wpe.weight": torch.zeros(3, 2)}, str(weights))
    weights.write_bytes(damage(weights.read_bytes()))
    result = make("sample", "CKPT=gpt2", f"WEIGHTS={weights}", "PROMPT=Hi")
    assert_refused(result, str(weights), "not a readable safetensors file", code=2)


def test_damaged_mlx_training_state_is_one_line(workspace, mlx_run):
    """A garbage MLX `last_state.npz` ended in a ValueError traceback on resume."""
    run = workspace.root / "runs" / "mlx_damaged"
    shutil.copytree(mlx_run[0], run)
    state = run / "last_state.npz"
    state.write_bytes(b"not an npz file " * 8)  # cut short or empty: the MLX unit tests
    snapshot = Snapshot(*(path for path in run.iterdir() if path.name != ".run.lock"))
    result = workspace.course("week4_training", "train", "--resume", str(run), "train.max_iters=4")
    assert_refused(result, str(state), "not a readable training state", code=2)
    snapshot.assert_unchanged()


# ----------------------------------------------------------------------------- case 9


@pytest.mark.parametrize("nproc", ["0", "-1", "abc"])
def test_a_bad_nproc_is_one_line(workspace, nproc):
    """`make train NPROC=0|-1|abc` ended in torchrun's own errors."""
    snapshot = Snapshot(workspace.root / "runs")
    result = make("train", f"CFG={workspace.config}", f"NPROC={nproc}", "ARGS=run.name=nproc",
                  env=workspace.env)  # fmt: skip
    assert_refused(result, f"NPROC={nproc}", "positive integer", code=2)
    snapshot.assert_unchanged()


LAUNCH = ("week6_optimizations.distributed", "launch", "--nproc", "2")  # make train NPROC=2


def test_an_error_inside_torchrun_is_the_last_line(workspace):
    """An error inside torchrun's ranks was printed, then buried under ChildFailedError."""
    short = workspace.root / "short.txt"
    short.write_text("ROMEO:\nO love, my night.\n", encoding="utf-8")
    config = tiny_config(workspace.root, "short", short)
    result = workspace.course(*LAUNCH, "--config", str(config))
    assert_refused(result, "error: ", "model.block_size", code=2)
    assert "ChildFailedError" not in result.output
    assert re.search(r"torchrun: rank \d failed first \(exit code 2\)", result.stderr), result


def test_ctrl_c_under_torchrun_stops_every_rank_with_one_line(workspace):
    """Ctrl-C under NPROC=2: the resume hint must name NPROC=2, and no traceback follow."""
    config = tiny_config(workspace.root, "ddp", workspace.corpus, max_iters=100000,
                         lr_decay_iters=100000, eval_interval=50000)  # fmt: skip
    args = _python(*LAUNCH, "--config", str(config))
    result = interrupted(args, after="step 0:", env=workspace.env)
    assert_interrupted(result)
    run = workspace.root / "runs" / "ddp"
    assert f"resume with: make train RESUME={run} NPROC=2" in result.output
    assert (run / "last.pt").is_file()


# ----------------------------------------------------------------------------- case 10


def test_the_mlx_parity_claim_is_the_measured_bound():
    """Week 6 claimed MLX logits agree within 1e-6; on a trained model they differ by more."""
    pytest.importorskip("mlx.core")
    from week6_optimizations.mlx_port.tests.test_mlx_parity import TRAINED_LOGITS_TOLERANCE

    lessons = [ROOT / "week6_optimizations" / name for name in ("README.md", "mlx_port/README.md")]
    text = " ".join(path.read_text(encoding="utf-8") for path in lessons)
    assert "within 1e-6" not in text
    assert f"within {TRAINED_LOGITS_TOLERANCE:.0e}".replace("e-05", "e-5") in text


# ----------------------------------------------------------------------------- case 11


@pytest.fixture(scope="module")
def nan_run(workspace) -> Path:
    """A copy of the tiny run whose best checkpoint holds a NaN weight."""
    run = workspace.copy_run("nan")
    document = torch.load(run / "checkpoint.pt", weights_only=True)
    document["model"]["blocks.0.mlp.c_fc.weight"][0, 0] = float("nan")
    torch.save(document, run / "checkpoint.pt")
    return run


@pytest.mark.parametrize(
    "command",
    [
        ["sample", "--prompt", "ROMEO:"],
        ["sample", "--prompt", "ROMEO:", "--backend", "mlx"],
        ["evaluate"],
    ],
    ids=["sample", "mlx", "evaluate"],
)  # `make chat` is `sample --interactive`: the same loading, before the first line is read
def test_nan_weights_are_one_line(workspace, nan_run, command):
    """A checkpoint whose weights hold NaN crashed `make sample`."""
    if "mlx" in command:
        pytest.importorskip("mlx.core")
    where = ["--checkpoint", str(nan_run)] if command[0] == "sample" else [str(nan_run)]
    result = workspace.course("week5_generation", *command, *where)
    assert_refused(result, str(nan_run / "checkpoint.pt"), "NaN", code=2)


# ----------------------------------------------------------------------------- case 12


def test_a_compiler_that_cannot_build_mlx_kernels_runs_uncompiled(workspace, tmp_path):
    """A `g++` that could not build MLX's CPU kernels (`cannot execute 'cc1plus'`) stopped MLX
    runs at their first step. A wrong GCC_EXEC_PREFIX breaks the compiler the same way, and an
    empty temporary folder leaves MLX no library built before."""
    pytest.importorskip("mlx.core")
    config = tiny_config(
        tmp_path, "mlx_no_compiler", workspace.corpus, max_iters=2, eval_interval=2, compile="true"
    )
    with config.open("a", encoding="utf-8") as handle:
        handle.write("  backend: mlx\n")
    (tmp_path / "tmp").mkdir()
    broken = {"GCC_EXEC_PREFIX": "/nonexistent/lib/gcc/", "TMPDIR": str(tmp_path / "tmp")}
    command = ["week6_optimizations.mlx_port", "train", "--config", str(config)]
    # a new interpreter: turning compilation off lasts for the rest of the process
    result = course(*command, process=True, env={**workspace.env, **broken})
    assert result.returncode == 0, result
    notes = [line for line in result.stderr.splitlines() if "C++ kernels" in line]
    assert len(notes) == 1 and "cc1plus" in notes[0] and "uncompiled" in notes[0], result
    assert "Traceback" not in result.stderr, result
    assert (tmp_path / "runs" / "mlx_no_compiler" / "last.safetensors").is_file()
