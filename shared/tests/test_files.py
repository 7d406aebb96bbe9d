"""Atomic writes, run folders, metrics logs and formulas, the registry and the CLI guard."""

from __future__ import annotations

import json
import math

import pytest

from shared.atomic import atomic_write, atomic_write_text
from shared.bench import machine_description, median_seconds
from shared.errors import CourseError, run_cli
from shared.registry import Registry
from shared.runs import MARKER, MetricsLog, prepare_run_dir, read_metrics, write_config


def test_atomic_write_replaces_the_file(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


def test_a_crash_mid_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"previous good state")

    def crash(handle):
        handle.write(b"half of the new st")
        raise KeyboardInterrupt  # the user pressed Ctrl-C in the middle of saving

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert target.read_bytes() == b"previous good state"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_run_dir_is_created_and_never_silently_reused(tmp_path):
    run = prepare_run_dir(tmp_path / "r")
    write_config(run, "run:\n  name: r\n")
    with pytest.raises(
        CourseError, match="already exists; resume it with RESUME=.* or pass OVERWRITE=1"
    ):
        prepare_run_dir(run)
    assert (run / "config.yaml").is_file()
    # emptied, but for the marker that makes it a run folder (see shared.runs)
    assert [p.name for p in prepare_run_dir(run, overwrite=True).iterdir()] == [MARKER]


def test_resume_needs_a_last_checkpoint(tmp_path):
    with pytest.raises(CourseError, match="cannot resume .* no last.pt"):
        prepare_run_dir(tmp_path, resume=True)
    (tmp_path / "last.pt").write_bytes(b"x")
    assert prepare_run_dir(tmp_path, resume=True) == tmp_path


def test_metrics_log_appends_json_rows_and_truncates_on_resume(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.truncate_after(0)  # nothing to do yet
    for step in range(5):
        log.log({"step": step, "loss": 1.0 / (step + 1)})
    log.log({"step": 5, "loss": math.nan})
    rows = read_metrics(log.path)
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert rows[-1]["loss"] == "nan"
    log.truncate_after(2)
    assert [r["step"] for r in read_metrics(log.path)] == [0, 1, 2]


def test_read_metrics_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(CourseError, match="no metrics file"):
        read_metrics(tmp_path / "none.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"step": 1}) + "\n\n{oops\n")
    with pytest.raises(CourseError, match=r"bad.jsonl:3: not a JSON object"):
        read_metrics(bad)


def test_registry_reads_its_table_from_the_installed_entry_points(monkeypatch):
    from importlib.metadata import EntryPoint

    table: Registry[type] = Registry("widget", "tiny_gpt.config_section")
    assert {"data", "run", "model"} <= set(table.names()) and "data" in table
    assert table.source("data") == "shared.sections:DataConfig"
    from shared.sections import DataConfig

    assert table.get("data") is DataConfig  # imported on first use

    @table.register("plain")
    class Plain:
        pass

    table.register("plain")(Plain)  # registering the same thing twice is harmless
    assert (
        table.get("plain") is Plain
        and "plain" in table
        and table.source("plain") == ("this process")
    )
    with pytest.raises(ValueError, match="registered twice"):
        table.register("plain")(int)
    with pytest.raises(
        CourseError,
        match=r"unknown widget 'other'; known: .*plain.* \(the table is "
        r'\[project.entry-points."tiny_gpt.config_section"\] in pyproject.toml',
    ):
        table.get("other")
    gone = EntryPoint("gone", "no_such_week.parts:Thing", "tiny_gpt.config_section")
    monkeypatch.setitem(table.listed(), "gone", gone)
    with pytest.raises(
        CourseError, match="widget 'gone' is provided by no_such_week.parts:Thing, which cannot be"
    ):
        table.get("gone")


def test_run_cli_turns_course_errors_into_one_line_and_exit_2(capsys):
    def failing(argv):
        raise CourseError("config.yaml: bad key")

    assert run_cli(failing, []) == 2
    assert capsys.readouterr().err == "error: config.yaml: bad key\n"
    assert run_cli(lambda argv: None, []) == 0
    assert run_cli(lambda argv: 3, []) == 3


def test_median_seconds_runs_warmup_and_repeats():
    calls = []
    seconds = median_seconds(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and seconds >= 0
    machine = machine_description()
    assert machine["cores"] >= 1 and machine["torch"]
