"""Run folders under faults: what may be replaced, one writer at a time, whole metrics rows."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys

import pytest

from shared.errors import CourseError
from shared.paths import REPO_ROOT
from shared.runs import (
    MARKER,
    MetricsLog,
    RunLock,
    check_run_dir,
    claim_run_dir,
    is_run_folder,
    make_resume_command,
    prepare_run_dir,
    read_metrics,
)


def _folder(path, *names):
    path.mkdir(parents=True, exist_ok=True)
    for name in names:
        (path / name).write_text("x")
    return path


def test_what_counts_as_a_run_folder(tmp_path):
    assert is_run_folder(_folder(tmp_path / "marked", MARKER, "notes.txt"))
    assert is_run_folder(_folder(tmp_path / "old_run", "config.yaml", "metrics.jsonl", "last.pt"))
    assert is_run_folder(_folder(tmp_path / "first_eval", "metrics.jsonl"))
    assert not is_run_folder(_folder(tmp_path / "my_model", "checkpoint.pt"))
    assert not is_run_folder(_folder(tmp_path / "my_config", "config.yaml"))
    assert not is_run_folder(_folder(tmp_path / "thesis", "config.yaml", "metrics.jsonl", "a.tex"))
    assert not is_run_folder(_folder(tmp_path / "tokenizers", "bpe_1024.json"))
    assert not is_run_folder(tmp_path / "missing")


def test_a_folder_that_is_not_a_run_is_never_replaced(tmp_path):
    thesis = _folder(tmp_path / "thesis", "chapter1.tex")
    for overwrite in (False, True):
        with pytest.raises(CourseError, match=f"{thesis} already exists and is not a run folder"):
            prepare_run_dir(thesis, overwrite=overwrite)
    assert [p.name for p in thesis.iterdir()] == ["chapter1.tex"]
    a_file = _folder(tmp_path / "out", "run")
    with pytest.raises(CourseError, match="is a file, not a folder"):
        check_run_dir(a_file / "run")


def test_overwriting_a_run_folder_keeps_only_its_marker(tmp_path):
    run = prepare_run_dir(tmp_path / "r")
    _folder(run, "config.yaml", "metrics.jsonl", "notes.txt")
    (run / "plots").mkdir()
    prepare_run_dir(run, overwrite=True)
    assert [p.name for p in run.iterdir()] == [MARKER]
    prepare_run_dir(run)  # a folder holding only its marker is an empty one


def test_the_hint_of_a_multi_process_run_names_nproc(tmp_path):
    run = prepare_run_dir(tmp_path / "r")
    _folder(run, "config.yaml")
    with pytest.raises(CourseError, match=f"RESUME={run} NPROC=2, choose"):
        check_run_dir(run, world_size=2)
    assert make_resume_command("runs/x") == "make train RESUME=runs/x"
    assert make_resume_command("runs/x", 4) == "make train RESUME=runs/x NPROC=4"


def test_a_locked_run_folder_is_refused_until_its_lock_is_released(tmp_path):
    run = tmp_path / "r"
    first = RunLock(run)
    with pytest.raises(CourseError, match=f"{run} is in use by another training run .process"):
        RunLock(run)
    first.release()
    RunLock(run).release()


def test_a_killed_run_leaves_its_folder_unlocked(tmp_path):
    """The lock is the operating system's: kill -9 drops it with the process."""
    run = tmp_path / "r"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from shared.runs import RunLock; RunLock({str(run)!r}); "
            "print('locked', flush=True); input()",
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CourseError, match=f"process {holder.pid}"):
            RunLock(run)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    RunLock(run).release()


def test_resuming_removes_only_the_temporaries_a_killed_run_left(tmp_path):
    run = _folder(tmp_path / "r", "config.yaml", "metrics.jsonl", "last.pt", ".notes.tmp")
    for name in (".last.pt.k3x9a2bq.tmp", ".checkpoint.pt.0a1b2c3d.tmp"):
        (run / name).write_bytes(b"\0" * 1000)
    claim_run_dir(run, resume=True).release()
    assert sorted(p.name for p in run.iterdir()) == sorted(
        [MARKER, ".notes.tmp", "config.yaml", "last.pt", "metrics.jsonl"]
    )


def test_a_metrics_row_is_appended_whole_or_not_at_all(tmp_path, monkeypatch):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.log({"step": 1, "loss": 2.0})
    before = log.path.read_bytes()
    real_write = os.write
    calls = []

    def disk_fills_midway(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:7]))  # the disk took 7 bytes, then was full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_fills_midway)
    with pytest.raises(OSError) as caught:
        log.log({"step": 2, "loss": 1.5})
    monkeypatch.undo()
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(log.path)
    assert log.path.read_bytes() == before and len(calls) == 2


def test_a_torn_last_row_is_dropped_with_a_warning(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 3, "lo')
    assert read_metrics(path) == rows
    assert capsys.readouterr().err == (
        f"warning: {path}:3: dropped a torn last row (its write was cut off)\n"
    )
    MetricsLog(path).truncate_after(2)  # what resume does: the file is whole again
    assert path.read_text() == "".join(json.dumps(r) + "\n" for r in rows)
    path.write_text('{"step": 1}\n[1, 2]\n')
    with pytest.raises(CourseError, match="metrics.jsonl:2: not a JSON object"):
        read_metrics(path)
