"""The workbook: the learner's edition is generated from the reference, and the same tests grade it.

What must hold: the markers follow their rules; stubbing then restoring gives every reference
file back byte for byte; a generated edition is a git repository that imports; `make check`
fails in it for every week, each task's tests failing with that task's NotImplementedError and no
other test failing; a FROM=N edition keeps weeks before N exactly as the reference; and solving
one task turns exactly that row green.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shared.errors import CourseError
from shared.workbook import (
    all_tasks,
    marker_problems,
    restore_text,
    source_files,
    stub_text,
    tasks_in,
    week_folders,
    write_workbook,
)

ROOT = Path(__file__).resolve().parents[1]
TASKS = all_tasks(ROOT)
WEEKS = sorted(week_folders(ROOT))


def test_the_markers_follow_their_rules():
    assert marker_problems(ROOT) == []
    assert 25 <= len(TASKS) <= 40
    assert {task.week for task in TASKS} == set(WEEKS)


def test_stubbing_then_restoring_gives_every_reference_file_back_byte_for_byte():
    for path in source_files(ROOT):
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(ROOT)
        stubbed = stub_text(text, relative)
        compile(stubbed, str(relative), "exec")  # the learner's file parses
        assert restore_text(stubbed, tasks_in(text, relative)) == text, relative


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.number)
def test_a_stub_says_what_to_write_and_where_to_read(task):
    text = (ROOT / task.path).read_text(encoding="utf-8")
    stubbed = stub_text(text, task.path).splitlines()
    begin = next(i for i, line in enumerate(stubbed) if f"# BEGIN TASK {task.number} " in line)
    end = stubbed.index(f"{stubbed[begin].split('#')[0]}# END TASK {task.number}", begin)
    stub = textwrap.dedent("\n".join(stubbed[begin + 1 : end]))
    with pytest.raises(NotImplementedError) as raised:
        exec(stub)  # the lines between the markers: one raise, nothing else
    assert str(raised.value) == (
        f"Task {task.number}: {task.what} - see {task.lesson}, section {task.section}"
    )
    assert all(len(line) <= 100 for line in stubbed[begin : end + 1])


@pytest.mark.parametrize(
    "text, message",
    [
        ("    # BEGIN TASK 1.1 [A]: x\n    pass\n", "task 1.1 has no END TASK line"),
        ("    # END TASK 1.1\n", "END TASK 1.1 without its BEGIN"),
        ("# BEGIN TASK 1.1 [A]: x\n# BEGIN TASK 1.2 [A]: y\n", "task 1.2 begins inside task 1.1"),
        ("    # BEGIN TASK 1.1: no section\n", "a task marker reads"),
    ],
)
def test_broken_markers_are_named(text, message):
    with pytest.raises(CourseError, match=re.escape(message)):
        tasks_in(text, Path("week1_setup/x.py"))


# ----------------------------------------------------------------------------- generated editions


def course(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ...` in a generated edition, as `make` runs it there."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.setdefault("COURSE_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))
    for name in ("COURSE_DATA_MIRROR", "COURSE_DATA_DIR"):  # relative to here, not to cwd
        value = env.get(name)
        if value and "://" not in value and not Path(value).is_absolute():
            env[name] = str(Path(value).resolve())
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("editions") / "workbook"
    assert write_workbook(dest, from_week=1, root=ROOT) == len(TASKS)
    return dest


def test_the_workbook_is_a_git_repository_with_one_commit_and_imports(workbook):
    log = subprocess.run(["git", "log", "--oneline"], cwd=workbook, capture_output=True, text=True)
    assert len(log.stdout.splitlines()) == 1
    imports = "; ".join(f"import {folder.name}" for folder in week_folders(workbook).values())
    result = subprocess.run([sys.executable, "-c", imports], cwd=workbook, capture_output=True)
    assert result.returncode == 0, result.stderr


def test_the_workbook_passes_the_courses_lint(workbook):
    for check in (["check", "."], ["format", "--check", "."]):
        result = course(workbook, "ruff", *check)
        assert result.returncode == 0, result.stdout + result.stderr


def test_in_the_workbook_the_cross_week_tests_wait_for_the_tasks(workbook):
    result = course(workbook, "pytest", "tests", "-rs", "-x")
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"waits for the workbook: week 1 task 1\.1 is not done yet", result.stdout)
    assert re.search(r"\d+ passed", result.stdout)  # the tests that run no task still run


def test_writing_over_an_existing_folder_is_refused(workbook):
    result = course(ROOT, "shared.workbook", "write", str(workbook))
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "already exists; the workbook is written into a new folder"
    )


@pytest.mark.parametrize("week", WEEKS[1:])
def test_check_names_the_earlier_task_still_to_do(workbook, week):
    result = course(workbook, "shared.grading", str(week))
    assert result.returncode == 2
    assert re.match(r"week 1 task 1\.\d+ is not done yet \(week1_", result.stdout)
    assert "finish the earlier weeks first: make check WEEK=1" in result.stderr


def edition(tmp_path: Path, from_week: int) -> Path:
    dest = tmp_path / f"from{from_week}"
    write_workbook(dest, from_week=from_week, root=ROOT)
    return dest


def rows_of(output: str) -> dict[str, str]:
    """Task number -> its 'passed/total' cell, from the check's table."""
    rows = {}
    for line in output.splitlines():
        match = re.match(r"^(\d+\.\d+)\s.*?\s(\d+/\d+)\s", line)
        if match:
            rows[match[1]] = match[2]
    return rows


@pytest.mark.parametrize("week", WEEKS)
def test_in_a_fresh_week_every_task_fails_with_its_stub_and_nothing_else(tmp_path, week):
    result = course(edition(tmp_path, week), "shared.grading", str(week))
    assert result.returncode == 1, result.stdout + result.stderr
    rows = rows_of(result.stdout)
    assert sorted(rows) == sorted(t.number for t in TASKS if t.week == week)
    assert all(cell.startswith("0/") and cell != "0/0" for cell in rows.values()), rows
    # Each row's first failure is a stub of this week (its own, or one its tests run first).
    for line in result.stdout.splitlines():
        if re.match(r"^\d+\.\d+\s", line):
            assert re.search(rf"task {week}\.\d+ is a stub", line), line
    assert "also failing" not in result.stdout  # a test without a mark passes


def test_a_from_edition_keeps_the_earlier_weeks_as_the_reference(tmp_path):
    dest = edition(tmp_path, 4)
    for path in source_files(ROOT):
        relative = path.relative_to(ROOT)
        same = (dest / relative).read_bytes() == path.read_bytes()
        week = int(relative.parts[0][4])
        assert same == (week < 4 or not tasks_in(path.read_text(encoding="utf-8"), relative))
    result = course(dest, "shared.grading", "3")
    assert result.returncode == 0 and "week 3: all" in result.stdout


def test_solving_one_task_turns_exactly_its_row_green(tmp_path):
    week = WEEKS[0]  # task 1.1's tests need no other task
    dest = edition(tmp_path, week)
    first, *others = [t for t in TASKS if t.week == week]
    path = dest / first.path
    path.write_text(restore_text(path.read_text(encoding="utf-8"), [first]), encoding="utf-8")
    rows = rows_of(course(dest, "shared.grading", str(week)).stdout)
    total = rows[first.number].split("/")[1]
    assert rows[first.number] == f"{total}/{total}"
    assert all(rows[t.number].startswith("0/") for t in others)
