"""Catalogue: training runs, run folders and checkpoints (issue #12, week 4's cases).

Each case is a mistake or a fault met by `make train`, `make eval`, `make plot` or `make sample`:
a knob typed wrong, a folder that is not a run, a full or read-only disk, two runs at once, a
damaged checkpoint, a Ctrl-C. The course answers with one line naming the file, key or value,
a non-zero exit, and nothing of the learner's lost. Two small runs are trained once for the
module (a 2-layer, 32-wide byte-level model, seconds each); a case that changes a run works on a
copy of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from shared.runs import MARKER, RunLock
from tests.catalogue.harness import (
    ROOT,
    Snapshot,
    assert_interrupted,
    assert_refused,
    command,
    course,
    interrupted,
    make,
    read_only,
    small_disk,
)

WORDS = "the king queen lord speak love night day sword crown death heart blood fair sweet".split()  # noqa: SIM905


def _corpus(path: Path) -> Path:
    """About 8 KB of play-shaped text, the same every time."""
    lines = []
    for i in range(300):
        if i % 5 == 0:
            lines.append(["KING:", "QUEEN:", "LORD:"][i % 3])
        lines.append(" ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(3 + i % 5)) + ".")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _config(path: Path, corpus: Path, out_dir: Path, train: str) -> Path:
    path.write_text(
        f"data:\n  corpus: {corpus}\ntokenizer:\n  kind: bytes\n"
        "model:\n  block_size: 16\n  n_layer: 2\n  n_head: 2\n  n_embd: 32\n"
        f"train:\n  batch_size: 4\n  log_interval: 5\n  sample_tokens: 10\n{train}"
        f"run:\n  name: run\n  out_dir: {out_dir}\n  device: cpu\n  seed: 3\n",
        encoding="utf-8",
    )
    return path


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Two finished runs: `run` (bfloat16, the schedule left to follow max_iters, trained under
    umask 027) and `unstable` (a constant, far too large learning rate: its best evaluation is
    not its last)."""
    root = tmp_path_factory.mktemp("training")
    corpus = _corpus(root / "play.txt")
    runs = root / "runs"
    config = _config(root / "play.yaml", corpus, runs, "  eval_interval: 10\n  dtype: bfloat16\n")
    knobs = f"CFG={config} ARGS='train.max_iters=20'"
    trained = command(["sh", "-c", f"umask 027 && exec make -s --no-print-directory train {knobs}"])
    assert trained.returncode == 0, trained
    unstable_config = _config(
        root / "unstable.yaml",
        corpus,
        runs,
        "  max_iters: 8\n  eval_interval: 2\n  lr: 0.5\n  min_lr: 0.1\n  warmup_iters: 0\n"
        "  lr_decay_iters: 100\n",
    )
    unstable = course("week4_training", "train", "--config", unstable_config, "run.name=unstable")
    assert unstable.returncode == 0, unstable
    return SimpleNamespace(
        root=root,
        corpus=corpus,
        config=config,
        run=runs / "run",
        unstable=runs / "unstable",
        unstable_output=unstable.output,
    )


def _files_of(run_dir: Path) -> Snapshot:
    """The run's files, but for its lock marker (a run that takes the lock writes its pid)."""
    return Snapshot(*(p for p in run_dir.iterdir() if p.name != MARKER))


def _copy(run_dir: Path, target: Path) -> Path:
    shutil.copytree(run_dir, target)
    return target


# ----------------------------------------------------------------------------- 1, 2: OVERWRITE


def test_case01_overwrite_0_or_no_is_not_a_yes(lab):
    """`OVERWRITE=0` and `OVERWRITE=no` replaced an existing run: any non-empty value meant yes."""
    snapshot = _files_of(lab.run)
    result = make("train", f"CFG={lab.config}", "OVERWRITE=0")  # (`no`: see week 4's test_cli)
    assert_refused(result, "OVERWRITE=0", "1, yes, true", code=2)
    snapshot.assert_unchanged()


def test_case02_overwrite_never_empties_a_folder_that_is_not_a_run(lab, tmp_path):
    """`OVERWRITE=1` wiped whatever sat at run.out_dir/run.name (`run.out_dir=~/thesis`)."""
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("\\chapter{Introduction}\n")
    (thesis / "config.yaml").write_text("my: notes\n")
    snapshot = Snapshot(thesis)
    args = f"ARGS=run.out_dir={tmp_path} run.name=thesis"
    result = make("train", f"CFG={lab.config}", args, "OVERWRITE=1")
    assert_refused(result, str(thesis), "is not a run folder", code=2)
    snapshot.assert_unchanged()
    assert sorted(p.name for p in thesis.iterdir()) == ["chapter1.tex", "config.yaml"]


# ----------------------------------------------------------------------------- 3: a full disk


def test_case03_a_full_disk_keeps_the_checkpoint_and_whole_metrics_rows(lab, tmp_path):
    """A full disk: a traceback from inline_container.cc, and metrics.jsonl ending mid-row."""
    import torch

    size = (lab.run / "last.pt").stat().st_size
    # room for two checkpoints and the temporary of a third, of step 0 (AdamW holds no moments
    # yet: a third of the size), not once each of them is full size
    with small_disk(tmp_path / "disk", f"{size * 5 // 2 // 1024}k") as disk:
        args = ["--config", lab.config, f"run.out_dir={disk}", "train.max_iters=40"]
        result = course("week4_training", "train", *args)
        assert_refused(result, "no space left on device", str(disk / "run"), code=1)
        run_dir = disk / "run"
        failed_at = [row for row in _rows(run_dir) if "val_loss" in row][-1]["step"]
        kept = torch.load(run_dir / "checkpoint.pt", weights_only=True)  # the previous one, whole
        assert 0 < kept["step"] < failed_at
        text = (run_dir / "metrics.jsonl").read_text()
        assert text.endswith("\n") and all(json.loads(line) for line in text.splitlines())
        assert not list(run_dir.glob(".*.tmp"))


def test_case03_a_torn_last_row_no_longer_blocks_the_run(lab, tmp_path):
    """A torn last row of metrics.jsonl made `make plot` (and resume) refuse the run for good."""
    run_dir = _copy(lab.run, tmp_path / "torn")
    (run_dir / "curves.png").unlink()
    with open(run_dir / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 21, "loss": 3.1, "lr"')  # what a cut-off write leaves
    result = course("week4_training", "plot", run_dir)
    assert result.returncode == 0, result
    assert f"warning: {run_dir / 'metrics.jsonl'}:" in result.stderr
    assert "dropped a torn last row" in result.stderr and "Traceback" not in result.output
    assert (run_dir / "curves.png").is_file()


# ----------------------------------------------------------------------------- 4, 5: one writer


def test_case04_a_run_folder_in_use_is_refused_and_a_kill_frees_it(lab, tmp_path):
    """Two `make train` runs of one run.name wrote into one folder (interleaved metrics)."""
    args = ["week4_training", "train", "--config", lab.config, f"run.out_dir={tmp_path}"]
    first = subprocess.Popen(
        [sys.executable, "-m", *map(str, args), "train.max_iters=100000"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        seen = b""
        while b"step 0:" not in seen and first.poll() is None:
            seen += first.stdout.readline()
        run_dir = tmp_path / "run"
        second = course(*args, "--overwrite", "1")  # would have emptied the folder being written
        assert_refused(second, f"run folder {run_dir} is in use", f"process {first.pid}", code=2)
        assert (run_dir / "last.pt").is_file()
    finally:
        first.send_signal(signal.SIGKILL)  # no chance to clean up: the OS drops the lock
        first.wait(timeout=60)
    RunLock(run_dir).release()  # what the next `make train` takes first: free again


def test_case05_resume_removes_the_temporaries_killed_runs_left(lab, tmp_path):
    """Stray `.last.pt.*.tmp` files (10 MB each, 66 MB after 22 kills) were never removed."""
    run_dir = _copy(lab.run, tmp_path / "killed")
    strays = [".last.pt.k3x9a2bq.tmp", ".last.pt.0a1b2c3d.tmp", ".checkpoint.pt.9f8e7d6c.tmp"]
    for name in strays:
        (run_dir / name).write_bytes(b"\0" * 100_000)
    (run_dir / ".my-notes.tmp").write_text("mine")  # not the course's name: left alone
    result = course("week4_training", "train", "--resume", run_dir, "train.max_iters=21")
    assert result.returncode == 0, result
    assert not any((run_dir / name).exists() for name in strays)
    assert (run_dir / ".my-notes.tmp").read_text() == "mine"


# ----------------------------------------------------------------------------- 6, 7, 8: checkpoints


def _damage(document, kind):
    import torch

    if kind == "no config":
        del document["config"]
    elif kind == "bad tokenizer":
        document["tokenizer"]["json"] = '{"format": "tiny-gpt-course tokenizer", "vers'
    elif kind == "step 12.5":
        document["step"] = 12.5
    elif kind == "NaN weights":
        document["model"]["ln_f.weight"][0] = torch.nan


@pytest.mark.parametrize(
    ("kind", "target", "names"),
    [
        ("no config", "eval", ["checkpoint.pt", "no 'config' entry"]),
        ("bad tokenizer", "sample", ["checkpoint.pt", "embedded tokenizer is not valid JSON"]),
        ("step 12.5", "resume", ["last.pt", "'step' is a float, not int"]),
        ("NaN weights", "eval", ["checkpoint.pt", "NaN or infinite values (ln_f.weight)"]),
    ],
)
def test_case06_a_damaged_checkpoint_is_one_line(lab, tmp_path, kind, target, names):
    """KeyError/JSONDecodeError/ValueError tracebacks; NaN weights gave `bits per byte nan`."""
    import torch

    run_dir = _copy(lab.run, tmp_path / "damaged")
    for name in ("checkpoint.pt", "last.pt"):
        document = torch.load(run_dir / name, weights_only=True)
        _damage(document, kind)
        torch.save(document, run_dir / name)
    if target == "eval":
        result = course("week4_training", "eval", "--checkpoint", run_dir)
    elif target == "sample":
        args = ["--checkpoint", run_dir, "--prompt", "KING:", "--max-new-tokens", "5"]
        result = course("week5_generation", "sample", *args)
    else:
        result = course("week4_training", "train", "--resume", run_dir, "train.max_iters=40")
    assert_refused(result, str(run_dir), *names, code=2)


def test_case07_resume_refuses_a_last_pt_of_another_run(lab, tmp_path):
    """Resume trusted a last.pt copied from another run while config.yaml said otherwise."""
    run_dir = _copy(lab.run, tmp_path / "mine")
    shutil.copyfile(lab.unstable / "last.pt", run_dir / "last.pt")
    snapshot = _files_of(run_dir)
    result = course("week4_training", "train", "--resume", run_dir, "train.max_iters=40")
    assert_refused(result, str(run_dir / "last.pt"), "belongs to another run", "run.name", code=2)
    snapshot.assert_unchanged()


def test_case08_resuming_a_finished_run_says_what_to_change(lab):
    """Resuming a finished run said nothing (and exited 0)."""
    snapshot = _files_of(lab.run)
    result = course("week4_training", "train", "--resume", lab.run)
    assert_refused(result, f"{lab.run} is finished", "train.max_iters=20", code=2)
    assert f'make train RESUME={lab.run} ARGS="train.max_iters=40"' in result.last_line
    snapshot.assert_unchanged()


# ----------------------------------------------------------------------------- 9, 10, 11: runs


def test_case09_samples_are_drawn_from_the_best_model(lab):
    """`write_samples` said 'drawn from the best model' but sampled the last weights."""
    evaluations = [row for row in _rows(lab.unstable) if "val_loss" in row]
    best = min(evaluations, key=lambda row: row["val_loss"])["step"]
    assert best != evaluations[-1]["step"]  # what makes this run a test of the case
    header = (lab.unstable / "samples.txt").read_text().splitlines()[0]
    assert header.startswith(f"# step {best} (checkpoint.pt, the best by validation loss)")


def test_case10_a_short_run_warms_up_and_decays_within_its_length(lab):
    """`ARGS="train.max_iters=100"` never left warm-up and never decayed."""
    resolved = (lab.run / "config.yaml").read_text()
    assert "warmup_iters: 1\n" in resolved and "lr_decay_iters: 20\n" in resolved  # 5%, all
    rates = [row["lr"] for row in _rows(lab.run) if "lr" in row]
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.2 * rates[0]
    # a schedule set by hand that does not fit its run is named at the start
    assert "warning: train.lr_decay_iters=100 is beyond train.max_iters=8" in lab.unstable_output


def test_case11_a_multi_process_run_is_resumed_with_nproc(lab):
    """Under NPROC=2 the resume hint left NPROC=2 out."""
    snapshot = _files_of(lab.run)
    result = make("train", "NPROC=2", f"CFG={lab.config}", "ARGS=train.max_iters=20")
    assert_refused(result, f"RESUME={lab.run} NPROC=2", code=2)
    snapshot.assert_unchanged()


# ----------------------------------------------------------------------------- 12, 13: the disk


@pytest.mark.parametrize("where", ["read-only out_dir", "out_dir below a file"])
def test_case12_an_unwritable_run_folder_is_one_line(lab, tmp_path, where):
    """An unwritable or read-only output folder: an `OSError: [Errno 30]` traceback."""
    if where == "read-only out_dir":
        out_dir = tmp_path / "locked"
        out_dir.mkdir()
        with read_only(out_dir):
            result = course(
                "week4_training", "train", "--config", lab.config, f"run.out_dir={out_dir}"
            )
        assert_refused(result, "read-only file system", str(out_dir / "run"), code=1)
    else:
        a_file = tmp_path / "notes.txt"
        a_file.write_text("mine")
        args = ["--config", lab.config, f"run.out_dir={a_file / 'runs'}"]
        result = course("week4_training", "train", *args)
        assert_refused(result, "not a directory", str(a_file), code=1)
        assert a_file.read_text() == "mine"


def test_case12_plot_into_a_read_only_run_is_one_line(lab, tmp_path):
    """`make plot` of a run on a read-only disk: an `OSError: [Errno 30]` traceback."""
    shelf = tmp_path / "shelf"
    run_dir = _copy(lab.run, shelf / "run")
    with read_only(shelf):
        result = course("week4_training", "plot", run_dir)
    assert_refused(result, "read-only file system", str(run_dir / "curves.png"), code=1)


def test_case13_run_files_get_the_mode_the_umask_gives(lab):
    """Files written through the atomic writer were 0600 although the umask was 022."""
    files = ["config.yaml", "metrics.jsonl", "checkpoint.pt", "last.pt", "samples.txt"]
    modes = {name: stat.S_IMODE((lab.run / name).stat().st_mode) for name in files + ["curves.png"]}
    assert modes == dict.fromkeys(files + ["curves.png"], 0o640)  # 0666 minus umask 027


# ----------------------------------------------------------------------------- 14, 15, 16


def test_case14_ctrl_c_while_encoding_the_corpus_caches_nothing(lab, tmp_path):
    """Ctrl-C during the first encoding of a corpus: a traceback and a half-written cache."""
    big = tmp_path / "big.txt"
    big.write_text(lab.corpus.read_text() * 600, encoding="utf-8")  # about 5 MB: seconds to encode
    cache = tmp_path / "cache"
    args = ["week4_training", "train", "--config", lab.config, f"data.corpus={big}"]
    args += [f"run.out_dir={tmp_path / 'runs'}"]
    result = interrupted(
        [sys.executable, "-m", *map(str, args)], after="encoding", env={"COURSE_DATA_DIR": cache}
    )
    assert_interrupted(result)
    assert "interrupted" in result.last_line
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_case15_eval_evaluates_in_the_run_dtype(lab):
    """`make eval` must give the run's own (bfloat16) figure, exactly."""
    result = course("week4_training", "eval", "--checkpoint", lab.run)
    assert result.returncode == 0, result
    best = min((row for row in _rows(lab.run) if "val_loss" in row), key=lambda r: r["val_loss"])
    assert f"loss               {best['val_loss']:.4f} nats/token" in result.stdout
    assert f"bits per byte      {best['val_bits_per_byte']:.4f}" in result.stdout


def test_case16_the_lessons_commands_run_as_written():
    """README exercises said `python -m week4_training ...` without the venv being active."""
    readme = (ROOT / "week4_training" / "README.md").read_text(encoding="utf-8")
    paragraphs = readme.split("\n\n")
    direct = [p for p in paragraphs if "python -m" in p]
    assert direct, "the lesson shows the direct command once, with its condition"
    for paragraph in direct:
        assert "venv" in paragraph, paragraph
    targets = set(re.findall(r"^([a-z0-9-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    used = set(re.findall(r"(?:`|^)make ([a-z0-9-]+)", readme, re.MULTILINE))
    assert used and used <= targets, used - targets


# ----------------------------------------------------------------------------- 17: Ctrl-C, twice


LAST_FILE = {"torch": "last.pt", "mlx": "last.safetensors"}


@pytest.mark.parametrize("backend", ["torch", "mlx"])
def test_case17_ctrl_c_stops_both_backends_the_same_way(lab, tmp_path, backend):
    """Ctrl-C: PyTorch saved last.pt and exited 130; MLX broke out of its own copy of the loop,
    then wrote samples and plots, printed "done" and exited 0. One loop now serves both."""
    if backend == "mlx":
        pytest.importorskip("mlx.core")
    out = tmp_path / "runs"
    knobs = [f"run.out_dir={out}", f"run.backend={backend}", "train.dtype=float32"]
    knobs += ["train.compile=false", "train.max_iters=100000", "train.eval_interval=50000"]
    args = ["week4_training", "train", "--config", str(lab.config), *knobs]
    result = interrupted([sys.executable, "-m", *args], after="step 0:")
    assert_interrupted(result)
    run_dir, last = out / "run", LAST_FILE[backend]
    saved = re.escape(f"; saved {run_dir / last}")
    stopped = re.search(rf"stopped at step (\d+){saved}", result.output)
    assert stopped, result
    assert result.last_line.startswith(f"resume with: make train RESUME={run_dir}")
    assert "done:" not in result.output
    assert not (run_dir / "samples.txt").exists() and not (run_dir / "curves.png").exists()
    step = int(stopped.group(1))
    resumed = course("week4_training", "train", "--resume", run_dir, f"train.max_iters={step + 2}")
    assert resumed.returncode == 0, resumed
    assert f"resuming {run_dir} from step {step}" in resumed.output
    assert f"done: step {step + 2}" in resumed.output and (run_dir / "samples.txt").is_file()
