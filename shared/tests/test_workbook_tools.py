"""The workbook writer and the grader on a two-week course made up for the test.

tests/test_workbook.py runs them on the real course; these cases pin the rules on a course small
enough to read: what a stub looks like, what `check` refuses, what `grade` prints and returns.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared import grading, workbook
from shared.errors import CourseError

SOURCE = '''"""Week {week}'s one idea."""


def double(x: int) -> int:
    """Twice x."""
    # BEGIN TASK {week}.1 [Doubling]: return twice x
    return 2 * x
    # END TASK {week}.1


def untouched() -> str:
    return "kept"
'''
TEST = """import pytest

from {package}.core import double, untouched


@pytest.mark.task("{week}.1")
def test_double():
    assert double(3) == 6


def test_untouched():
    assert untouched() == "kept"
"""


def make_course(root: Path) -> Path:
    for week in (1, 2):
        package = root / f"week{week}_demo"
        (package / "tests").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "core.py").write_text(SOURCE.format(week=week))
        (package / "README.md").write_text(f"# Week {week}\n\n## Tasks\n\nTask {week}.1\n")
        (package / "tests" / "test_core.py").write_text(
            TEST.format(package=package.name, week=week)
        )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


@pytest.fixture
def course(tmp_path) -> Path:
    return make_course(tmp_path / "course")


@pytest.fixture
def importing(monkeypatch):
    """`importing(root)`: the demo weeks import from `root` (as when `root` is the cwd)."""

    def switch(root: Path) -> Path:
        for name in [n for n in sys.modules if n.startswith(("week1_demo", "week2_demo"))]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.syspath_prepend(str(root))
        return root

    return switch


def test_tasks_are_found_and_stubbed_with_their_lesson(course):
    tasks = workbook.all_tasks(course)
    assert [t.number for t in tasks] == ["1.1", "2.1"]
    assert workbook.marker_problems(course) == []
    text = (course / "week1_demo" / "core.py").read_text()
    stub = workbook.stub_text(text, Path("week1_demo/core.py"))
    assert (
        '    raise NotImplementedError("Task 1.1: return twice x - see week1_demo/README.md, '
        'section Doubling")\n' in stub
    )
    assert "return 2 * x" not in stub and 'return "kept"' in stub
    assert workbook.restore_text(stub, tasks) == text
    later = workbook.stub_text(text, Path("week1_demo/core.py"), from_week=2)
    assert later == text  # week 1 stays solved from week 2 on


def test_marker_problems_are_named(course):
    readme = course / "week2_demo" / "README.md"
    readme.write_text("# Week 2\n")
    tests = course / "week1_demo" / "tests" / "test_core.py"
    tests.write_text(tests.read_text().replace('"1.1"', '"1.7"'))
    assert workbook.marker_problems(course) == [
        "task 2.1 is not named in week2_demo/README.md",
        "task 1.1 is graded by no test (pytest.mark.task)",
        "tests grade task 1.7, which is marked nowhere",
    ]


def test_write_makes_a_new_repository_and_refuses_an_existing_folder(course, tmp_path):
    dest = tmp_path / "edition"
    assert workbook.write_workbook(dest, from_week=2, root=course) == 1
    assert "return 2 * x" in (dest / "week1_demo" / "core.py").read_text()
    assert "Task 2.1" in (dest / "week2_demo" / "core.py").read_text()
    log = subprocess.run(["git", "log", "--oneline"], cwd=dest, capture_output=True, text=True)
    assert len(log.stdout.splitlines()) == 1
    with pytest.raises(CourseError, match="already exists"):
        workbook.write_workbook(dest, root=course)
    with pytest.raises(CourseError, match="--from 9: must be a week number, 1 to 2"):
        workbook.write_workbook(tmp_path / "other", from_week=9, root=course)


def test_grade_prints_one_row_per_task_and_its_exit_code(course, tmp_path, capsys, importing):
    dest = tmp_path / "edition"
    workbook.write_workbook(dest, root=course)
    assert grading.grade(1, root=importing(dest)) == 1
    out = capsys.readouterr().out
    assert "1.1   return twice x  0/1    task 1.1 is a stub  Doubling" in out
    assert "week 1: 1 of 2 tests fail" in out
    with pytest.raises(CourseError, match="finish the earlier weeks first: make check WEEK=1"):
        grading.grade(2, root=dest)
    assert "week 1 task 1.1 is not done yet (week1_demo/core.py)" in capsys.readouterr().out
    with pytest.raises(CourseError, match="WEEK=5: must be one of 1, 2"):
        grading.grade(5, root=course)


def test_the_command_lines(course, tmp_path):
    run = [sys.executable, "-m", "shared.workbook", "check"]
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 0 and "tasks, every one marked" in result.stdout
    assert workbook.main(["check"]) == 0
    dest = tmp_path / "cli"
    with pytest.raises(CourseError, match="already exists"):
        dest.mkdir()
        workbook.main(["write", str(dest)])
