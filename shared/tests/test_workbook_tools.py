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
        "    raise NotImplementedError(\n"
        '        "Task 1.1: return twice x - see week1_demo/README.md, section Doubling"\n'
        "    )\n"
    ) in stub
    assert "return 2 * x" not in stub and 'return "kept"' in stub
    assert workbook.restore_text(stub, tasks) == text
    later = workbook.stub_text(text, Path("week1_demo/core.py"), from_week=2)
    assert later == text  # week 1 stays solved from week 2 on


def test_a_long_stub_is_laid_out_as_ruff_format_would(tmp_path):
    what = "return twice x, " + "and say so at some length, " * 5 + "then stop"
    text = SOURCE.format(week=1).replace("return twice x", what)
    stub = workbook.stub_text(text, Path("week1_demo/core.py"))
    lines = stub.splitlines()
    begin = next(i for i, line in enumerate(lines) if "BEGIN TASK" in line)
    raise_lines = lines[begin + 1 : next(i for i, line in enumerate(lines) if "END TASK" in line)]
    assert raise_lines[0] == "    raise NotImplementedError(" and raise_lines[-1] == "    )"
    assert all(len(line) <= workbook.LINE_LENGTH for line in raise_lines)
    message = "".join(eval(line) for line in raise_lines[1:-1])  # the strings, concatenated
    assert message == f"Task 1.1: {what} - see week1_demo/README.md, section Doubling"
    path = tmp_path / "core.py"
    path.write_text(stub)
    formatter = [sys.executable, "-m", "ruff", "format", "--check", "--line-length", "100", path]
    assert subprocess.run(formatter, capture_output=True).returncode == 0
    tasks = workbook.tasks_in(text, Path("week1_demo/core.py"))
    assert workbook.restore_text(stub, tasks) == text


def test_stubs_left_and_the_lint_allowance_of_an_edition(course, tmp_path):
    assert workbook.stubs_left(root=course) == []
    dest = tmp_path / "edition"
    workbook.write_workbook(dest, from_week=2, root=course)
    assert workbook.stubs_left(root=dest) == [
        "week 2 task 2.1 is not done yet (week2_demo/core.py)"
    ]
    assert workbook.stubs_left([1], root=dest) == []
    allowance = (dest / "ruff.toml").read_text()
    assert 'extend = "pyproject.toml"' in allowance
    assert '"week2_demo/core.py" = ["F401", "F841"]' in allowance
    assert "week1_demo" not in allowance


def test_a_notebook_waits_for_its_weeks_tasks(course, tmp_path):
    from shared.notebooks import waiting_for

    dest = tmp_path / "edition"
    workbook.write_workbook(dest, from_week=2, root=course)
    assert waiting_for(dest / "week1_demo" / "lesson.ipynb", dest) is None
    assert waiting_for(dest / "week2_demo" / "lesson.ipynb", dest) == (
        "waits for the workbook: week 2 task 2.1 is not done yet (week2_demo/core.py)"
    )
    assert waiting_for(tmp_path / "elsewhere.ipynb", dest) is None


def test_a_lesson_keeps_its_answers_out_of_the_workbook(course, tmp_path):
    readme = course / "week2_demo" / "README.md"
    answer = "<!-- ANSWER 2.1 -->\n```python\nreturn 2 * x\n```\n<!-- END ANSWER 2.1 -->\n"
    readme.write_text(readme.read_text() + answer + "after\n")
    assert workbook.marker_problems(course) == []
    hidden = workbook.hide_answers(readme.read_text(), Path("week2_demo/README.md"))
    assert "2 * x" not in hidden and "Task 2.1 is yours to write" in hidden
    assert hidden.endswith("<!-- END ANSWER 2.1 -->\nafter\n")
    assert workbook.hide_answers(readme.read_text(), Path("r"), from_week=3) == readme.read_text()
    dest = tmp_path / "edition"
    workbook.write_workbook(dest, root=course)
    assert (dest / "week2_demo" / "README.md").read_text() == hidden
    readme.write_text(readme.read_text().replace("<!-- END ANSWER 2.1 -->\n", ""))
    assert workbook.marker_problems(course) == [
        "week2_demo/README.md: ANSWER 2.1 has no END ANSWER line"
    ]
    readme.write_text("# Week 2\n\nTask 2.1\n\n    return 2 * x  # shown\n<!-- ANSWER 7.1 -->\n")
    assert workbook.marker_problems(course) == [
        "week2_demo/README.md: ANSWER 7.1 has no END ANSWER line"
    ]
    readme.write_text("# Week 2\n\nTask 2.1\n\n    return 2 * x  # shown\n")
    (course / "week2_demo" / "core.py").write_text(
        SOURCE.format(week=2).replace("return 2 * x", "return x + x + x + x - x - x")
    )
    readme.write_text(readme.read_text() + "return x + x + x + x - x - x\n")
    (problem,) = workbook.marker_problems(course)
    assert problem.startswith(
        "week2_demo/README.md shows task 2.1's line 'return x + x + x + x - x - x'"
    )


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
