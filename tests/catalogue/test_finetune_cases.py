"""Catalogue: fine-tuning a run on JSONL examples (`make finetune`, week 5).

Each case is a mistake met by `make finetune`: a line of the examples that cannot be used, a
missing file or knob, a damaged base checkpoint, examples longer than the context, a run.name
that would write into the base run, a run folder that exists, a resume after the data changed, a
config value out of range. The course answers before any training with one line naming the
file:line, key or value, a non-zero exit, no traceback, and the base run and the data file
untouched. One base run is trained once for the module (a 1-layer, 32-wide byte-level model,
4 steps, about a second) and one fine-tuning run of it; a case that changes a run trains its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from shared.runs import MARKER
from tests.catalogue.harness import Result, Snapshot, assert_refused, course, make

BLOCK_SIZE = 32  # the base's context: an example holds at most 33 ids
SPEAKERS = ["KING", "QUEEN", "LORD", "NURSE"]
WORDS = "the king queen lord speak love night day sword crown death heart".split()  # noqa: SIM905
# A fine-tuning run of seconds: these knobs go after every command's own.
QUICK = [
    "train.dtype=float32",
    "train.max_iters=4",
    "train.eval_interval=2",
    "train.log_interval=2",
    "train.batch_size=4",
    "train.sample_tokens=4",
    "run.device=cpu",
]


def _corpus(path: Path) -> Path:
    """About 4 KB of play-shaped text, the same every time."""
    lines = []
    for i in range(120):
        lines.append(f"{SPEAKERS[i % 4]}:")
        lines.append(" ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(3 + i % 4)) + ".")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _base_config(path: Path, corpus: Path, out_dir: Path) -> Path:
    path.write_text(
        f"data:\n  corpus: {corpus}\ntokenizer:\n  kind: bytes\n"
        f"model:\n  block_size: {BLOCK_SIZE}\n  n_layer: 1\n  n_head: 2\n  n_embd: 32\n"
        "train:\n  batch_size: 4\n  max_iters: 4\n  eval_interval: 2\n  log_interval: 2\n"
        "  sample_tokens: 8\n  dtype: float32\n"
        f"run:\n  name: base\n  out_dir: {out_dir}\n  device: cpu\n  seed: 3\n",
        encoding="utf-8",
    )
    return path


def _line(prompt: str, completion: str) -> str:
    """One prompt/completion line of a fine-tuning file (without its newline)."""
    return json.dumps({"prompt": prompt, "completion": completion})


def _examples(path: Path, n: int = 40) -> Path:
    """`n` prompt/completion lines that fit the context (some fall in the held-out share)."""
    text = "".join(
        _line(f"Who says {WORDS[i % 12]} {i}?", SPEAKERS[i % 4]) + "\n" for i in range(n)
    )
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path, data: bytes) -> Path:
    """A file of exactly these bytes: a bad line is written as bytes, not as a Python string."""
    path.write_bytes(data)
    return path


def _tune(
    base: Path | None, data: Path | None, out_dir: Path, *extra: str, val: Path | None = None
) -> Result:
    """`make finetune CKPT=base DATA=data [VAL=val] ARGS="run.out_dir=out_dir <QUICK> <extra>"`,
    in this interpreter; None leaves the knob out. Options come before the overrides, as the
    Makefile writes them: argparse reads the overrides as one run of words, and refuses an
    override that comes after an option which itself came after overrides."""
    args = [] if base is None else ["--base", str(base)]
    args += [] if data is None else ["--data", str(data)]
    args += [] if val is None else ["--val", str(val)]
    return course(
        "week5_generation.finetune", "train", *args, f"run.out_dir={out_dir}", *QUICK, *extra
    )


def _run_files(run_dir: Path) -> Snapshot:
    """A run's files, but for its lock marker (a command that takes the lock writes its pid)."""
    return Snapshot(*(p for p in run_dir.iterdir() if p.name != MARKER))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A finished base run (runs/base) and 40 examples that fit its context."""
    root = tmp_path_factory.mktemp("finetune")
    config = _base_config(root / "base.yaml", _corpus(root / "play.txt"), root / "runs")
    trained = course("week4_training", "train", "--config", str(config))
    assert trained.returncode == 0, trained
    return SimpleNamespace(
        root=root, base=root / "runs" / "base", data=_examples(root / "ok.jsonl")
    )


@pytest.fixture(scope="module")
def tuned(lab: SimpleNamespace) -> SimpleNamespace:
    """A finished fine-tuning run of the base (4 steps), and what its command printed."""
    out_dir = lab.root / "tuned"
    result = _tune(lab.base, lab.data, out_dir)
    assert result.returncode == 0, result
    return SimpleNamespace(run=out_dir / "finetune", output=result.output)


def _assert_nothing_written(result: Result, out_dir: Path, *snapshots: Snapshot) -> None:
    """A refusal happens before the run folder is made, and leaves every snapshot as it was."""
    for snapshot in snapshots:
        snapshot.assert_unchanged()
    assert not out_dir.exists(), (sorted(out_dir.rglob("*")), result)


# ----------------------------------------------------------------------------- 1-7: the JSONL

GOOD = (_line("Who says this?", "KING") + "\n").encode()

LINE_CASES = {
    # case: (the file's bytes, what the last line names besides the file; {f} is the file)
    "01 not JSON": (
        GOOD + b"\n" + b'{"prompt": "x", "completion": }\n',  # a blank line still counts
        ["{f}:3: not JSON"],
    ),
    "02 missing field": (
        GOOD + GOOD + b'{"prompt": "x"}\n',
        ['{f}:3: missing field "completion"', "prompt and completion, or messages"],
    ),
    "03 unknown role": (
        GOOD
        + json.dumps(
            {
                "messages": [
                    {"role": "robot", "content": "hi"},
                    {"role": "assistant", "content": "K"},
                ]
            }
        ).encode()
        + b"\n",
        ["{f}:2: messages[0]: unknown role 'robot'", "allowed: system, user, assistant"],
    ),
    "04 empty completion": (
        GOOD + (_line("Who says this?", "  ") + "\n").encode(),
        ['{f}:2: "completion" is empty'],
    ),
    "05 not UTF-8": (
        GOOD + b'{"prompt": "caf\xe9", "completion": "KING"}\n',
        ["{f}:2: not UTF-8", "column 16"],
    ),
    "06 empty file": (b"", ["{f}: no examples in the file"]),
    "06 blank lines only": (b"\n  \n\n", ["{f}: no examples in the file"]),
    "07 reserved token": (
        GOOD + (_line("Who says this?", "KING<|end|>") + "\n").encode(),
        ['{f}:2: "completion" holds <|end|>', "a token the chat template reserves"],
    ),
}


@pytest.mark.parametrize("case", sorted(LINE_CASES))
def test_case01_to_07_a_bad_line_is_named_by_file_and_line(
    lab: SimpleNamespace, tmp_path: Path, case: str
) -> None:
    """A line that cannot be used must be found before training, by `file:line` and what is
    wrong with it; nothing is written and the base run is only read."""
    content, names = LINE_CASES[case]
    data = _jsonl(tmp_path / "examples.jsonl", content)
    snapshot = Snapshot(lab.base, data)
    result = _tune(lab.base, data, tmp_path / "runs")
    assert_refused(result, *(name.format(f=data) for name in names), code=2)
    _assert_nothing_written(result, tmp_path / "runs", snapshot)


# ----------------------------------------------------------------------------- 8: missing inputs


@pytest.mark.parametrize("knob", ["DATA", "VAL"])
def test_case08_a_data_file_that_does_not_exist_is_named(
    lab: SimpleNamespace, tmp_path: Path, knob: str
) -> None:
    """DATA= or VAL= naming no file: one line with the path."""
    missing = tmp_path / "nowhere" / "examples.jsonl"
    snapshot = Snapshot(lab.base, lab.data)
    if knob == "DATA":
        result = _tune(lab.base, missing, tmp_path / "runs")
    else:
        result = _tune(lab.base, lab.data, tmp_path / "runs", val=missing)
    assert_refused(result, str(missing))
    _assert_nothing_written(result, tmp_path / "runs", snapshot)


def test_case08_no_data_knob_says_to_give_data(lab: SimpleNamespace, tmp_path: Path) -> None:
    """`make finetune CKPT=runs/x` without DATA= must say that DATA= is missing."""
    snapshot = Snapshot(lab.base)
    result = _tune(lab.base, None, tmp_path / "runs")
    assert_refused(result, "no fine-tuning data", "DATA=", code=2)
    _assert_nothing_written(result, tmp_path / "runs", snapshot)


def test_case08_no_ckpt_knob_says_to_give_ckpt(lab: SimpleNamespace, tmp_path: Path) -> None:
    """`make finetune DATA=...` without CKPT= must say that CKPT= is missing."""
    snapshot = Snapshot(lab.base, lab.data)
    result = _tune(None, lab.data, tmp_path / "runs")
    assert_refused(result, "no base model", "CKPT=", code=2)
    _assert_nothing_written(result, tmp_path / "runs", snapshot)


# ----------------------------------------------------------------------------- 9: a damaged base


def test_case09_a_base_checkpoint_without_its_tokenizer_is_one_line(
    lab: SimpleNamespace, tmp_path: Path
) -> None:
    """A base checkpoint.pt whose "tokenizer" entry is gone: named, not a KeyError."""
    import torch

    damaged = tmp_path / "damaged" / "checkpoint.pt"
    damaged.parent.mkdir()
    document = torch.load(lab.base / "checkpoint.pt", weights_only=False)
    del document["tokenizer"]
    torch.save(document, damaged)
    snapshot = Snapshot(damaged, lab.data)
    result = _tune(damaged, lab.data, tmp_path / "runs")
    assert_refused(result, str(damaged), "no 'tokenizer' entry", code=2)
    _assert_nothing_written(result, tmp_path / "runs", snapshot)


# ----------------------------------------------------------------------------- 10: overlong


def _overlong(path: Path, n: int) -> Path:
    """`n` examples of 89 ids each: the end-of-text id, <|user|>, 80 prompt bytes, <|end|>,
    <|assistant|>, KING and <|end|>; 33 fit the context, so 56 prompt ids are cut from each."""
    text = "".join(_line(f"{i:02d}" + "x" * 78, "KING") + "\n" for i in range(n))
    path.write_text(text, encoding="utf-8")
    return path


def test_case10_overlong_refuse_says_the_examples_are_longer_than_the_context(
    lab: SimpleNamespace, tmp_path: Path
) -> None:
    """`finetune.overlong=refuse` with every example too long: one line, not an empty run."""
    data, val = _overlong(tmp_path / "long.jsonl", 40), _overlong(tmp_path / "long-val.jsonl", 5)
    snapshot = Snapshot(lab.base, data, val)
    result = _tune(lab.base, data, tmp_path / "runs", "finetune.overlong=refuse", val=val)
    names = ["every train example is longer than the context of 33 tokens"]
    assert_refused(result, *names, "finetune.overlong=truncate", code=2)
    _assert_nothing_written(result, tmp_path / "runs", snapshot)


def test_case10_overlong_truncate_cuts_from_the_left_and_says_how_many(
    lab: SimpleNamespace, tmp_path: Path
) -> None:
    """`finetune.overlong=truncate` trains on the cut examples and counts what it cut."""
    data, val = _overlong(tmp_path / "long.jsonl", 40), _overlong(tmp_path / "long-val.jsonl", 5)
    snapshot = Snapshot(lab.base, data, val)
    result = _tune(lab.base, data, tmp_path / "runs", "finetune.overlong=truncate", val=val)
    assert result.returncode == 0, result
    assert "train: 40 examples, 40 cut from the left to fit 33 tokens" in result.stdout
    assert "(2240 prompt tokens dropped)" in result.stdout  # 40 x 56
    assert "held-out: 5 examples, 5 cut from the left to fit 33 tokens (280 " in result.stdout
    assert (tmp_path / "runs" / "finetune" / "checkpoint.pt").is_file()
    snapshot.assert_unchanged()


# ----------------------------------------------------------------------------- 11, 12: run folders


@pytest.mark.parametrize("ckpt", ["folder", "checkpoint file"])
def test_case11_the_base_runs_own_folder_is_never_written(lab: SimpleNamespace, ckpt: str) -> None:
    """run.name and run.out_dir naming the base run, with OVERWRITE=1: refused, base kept."""
    base = lab.base if ckpt == "folder" else lab.base / "checkpoint.pt"
    snapshot = Snapshot(lab.base, lab.data)
    result = _tune(base, lab.data, lab.base.parent, f"run.name={lab.base.name}", "--overwrite=1")
    assert_refused(result, f"run.name={lab.base.name}", "the base run's own folder", code=2)
    assert str(lab.base) in result.last_line
    snapshot.assert_unchanged()


def test_case12_an_existing_finetune_run_is_not_replaced_without_overwrite(
    lab: SimpleNamespace, tuned: SimpleNamespace
) -> None:
    """A second `make finetune` of the same run.name, without OVERWRITE=1: refused, kept."""
    snapshot = _run_files(tuned.run)
    originals = Snapshot(lab.base, lab.data)
    result = _tune(lab.base, lab.data, tuned.run.parent)
    assert_refused(result, f"run folder {tuned.run} already exists", "OVERWRITE=1", code=2)
    snapshot.assert_unchanged()
    originals.assert_unchanged()


# ----------------------------------------------------------------------------- 13: resume


def test_case13_resume_refuses_data_that_changed_since_the_run_started(
    lab: SimpleNamespace, tmp_path: Path
) -> None:
    """A resume trains on exactly the examples the run started with, or not at all."""
    data = _examples(tmp_path / "examples.jsonl")
    out_dir = tmp_path / "runs"
    started = _tune(lab.base, data, out_dir, "train.max_iters=2")
    assert started.returncode == 0, started
    run_dir = out_dir / "finetune"
    original = data.read_bytes()
    data.write_bytes(original + (_line("Who says more?", "KING") + "\n").encode())
    snapshot = Snapshot(data, lab.base)
    folder = _run_files(run_dir)
    resume = ["week5_generation.finetune", "train", "--resume", str(run_dir), "train.max_iters=4"]
    result = course(*resume)
    assert_refused(result, f"{data}: changed since {run_dir} started", "restore the file", code=2)
    snapshot.assert_unchanged()
    folder.assert_unchanged()
    data.write_bytes(original)  # restored: the resume goes on
    resumed = course(*resume)
    assert resumed.returncode == 0, resumed
    assert f"resuming {run_dir} from step 2" in resumed.output


# ----------------------------------------------------------------------------- 14: the config


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("finetune.val_fraction=1.5", ["finetune.val_fraction", "a number in (0, 1)", "1.5"]),
        ("finetune.overlong=cut", ["finetune.overlong", "one of truncate, refuse"]),
    ],
)
def test_case14_a_finetune_value_out_of_range_names_its_key(
    lab: SimpleNamespace, tmp_path: Path, override: str, names: list[str]
) -> None:
    """A bad value of the finetune section: a config error naming the key and what is allowed."""
    snapshot = Snapshot(lab.base, lab.data)
    result = _tune(lab.base, lab.data, tmp_path / "runs", override)
    assert_refused(result, *names, code=2)
    _assert_nothing_written(result, tmp_path / "runs", snapshot)


# ----------------------------------------------------------------------------- 15, 16: hints


def test_case15_a_finished_finetune_run_is_resumed_with_make_finetune(
    tuned: SimpleNamespace,
) -> None:
    """Resuming a finished fine-tuning run must name `make finetune RESUME=...`: `make train
    RESUME=...` on a fine-tuning run is refused (its tokenizer has the template's tokens)."""
    snapshot = _run_files(tuned.run)
    result = course("week5_generation.finetune", "train", "--resume", str(tuned.run))
    assert_refused(result, f"{tuned.run} is finished", code=2)
    assert f'make finetune RESUME={tuned.run} ARGS="train.max_iters=8"' in result.last_line
    snapshot.assert_unchanged()


def test_case16_a_short_finetune_says_its_schedule_does_not_fit(tuned: SimpleNamespace) -> None:
    """configs/finetune.yaml sets warmup_iters=20 by hand: `train.max_iters=4` never leaves
    warm-up, which `make train` names at the start (week 4's case 10); so must fine-tuning."""
    assert "warning: train.warmup_iters=20 is not below train.max_iters=4" in tuned.output


# ----------------------------------------------------------------------------- the whole command


def test_make_finetune_then_make_sample(lab: SimpleNamespace, tmp_path: Path) -> None:
    """The Makefile's knobs reach the command; the run folder is complete, says it is a
    fine-tuning run, and `make sample` answers in the chat template (no prompt echoed)."""
    out_dir = tmp_path / "runs"
    snapshot = Snapshot(lab.base, lab.data)
    knobs = " ".join([f"run.out_dir={out_dir}", *QUICK])
    result = make("finetune", f"CKPT={lab.base}", f"DATA={lab.data}", f"ARGS={knobs}")
    assert result.returncode == 0, result
    assert "Traceback" not in result.output, result
    run_dir = out_dir / "finetune"
    names = ["checkpoint.pt", "config.yaml", "curves.png", "last.pt", "metrics.jsonl"]
    assert {p.name for p in run_dir.iterdir()} >= {*names, "samples.txt"}
    config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    settings = config["finetune"]
    assert (settings["base"], settings["data"]) == (str(lab.base), str(lab.data))
    assert len(settings["data_sha256"]) == 64 and config["train"]["max_iters"] == 4
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if "val_loss" in row] == [0, 2, 4]
    assert "greedy answers to held-out examples" in (run_dir / "samples.txt").read_text()
    snapshot.assert_unchanged()
    prompt = "Who says love?"
    sample = ["--checkpoint", str(run_dir), "--prompt", prompt, "--max-new-tokens", "5"]
    sampled = course("week5_generation", "sample", *sample)
    assert sampled.returncode == 0, sampled
    assert "Traceback" not in sampled.output and prompt not in sampled.stdout, sampled
