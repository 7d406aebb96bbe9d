"""`make check WEEK=N`: grade one week's tasks with the week's own tests.

    python -m shared.grading 3

Every task (see shared/workbook.py) is graded by the tests marked `@pytest.mark.task("3.1")`
(a test that runs several tasks' code names them all: `task("3.1", "3.2")`). The command runs
the week's tests once and prints one row per task: its number and what to write, tests passed /
total, the first failure's one-line reason, and the lesson section to read. It exits 0 when
every test of the week passes.

Weeks build on each other, so a stub of an earlier week would make this week's tests fail for a
reason that is not this week's: then the command says which earlier task is not done yet, and
grades nothing. A failing test without a mark is reported too, by the task whose stub it hit
when there is one.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import CourseError, run_cli
from shared.paths import REPO_ROOT
from shared.workbook import Task, all_tasks, stubs_left, week_folders

RAISED = re.compile(r"NotImplementedError: Task (?P<number>\d+\.\d+): ")


@dataclass
class Outcome:
    """One test's result: the tasks it is marked with, and why it failed (None: passed)."""

    tasks: tuple[str, ...]
    failure: str | None = None


@dataclass(eq=False)  # pytest keeps plugins in sets: hashed by identity
class Collector:
    """A pytest plugin that keeps every test's marks and its first failing phase's message."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        for item in items:
            marks = tuple(str(n) for mark in item.iter_markers("task") for n in mark.args)
            self.outcomes[item.nodeid] = Outcome(marks)

    def pytest_runtest_logreport(self, report: Any) -> None:
        outcome = self.outcomes.setdefault(report.nodeid, Outcome(()))
        if report.failed and outcome.failure is None:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else str(report.longrepr)
            outcome.failure = (message.strip().splitlines() or ["failed"])[0]


def run_tests(folder: Path) -> dict[str, Outcome]:
    """Run the tests of one week in this process; return each test's outcome."""
    import pytest

    collector = Collector()
    args = [
        str(folder),
        "-q",
        "--tb=no",
        "-rN",  # no summary of failures: the table says it per task
        "--no-header",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=--import-mode=importlib",
    ]
    code = pytest.main(args, plugins=[collector])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise CourseError(f"{folder}: the tests could not run (pytest exit code {int(code)})")
    return collector.outcomes


def hit_task(outcome: Outcome) -> str | None:
    """The task whose stub a failing test ran into, read from its NotImplementedError."""
    match = RAISED.search(outcome.failure or "")
    return match["number"] if match else None


def grade_rows(tasks: Sequence[Task], outcomes: dict[str, Outcome]) -> list[list[str]]:
    """One row per task: number, what, passed/total, first failure, section."""
    rows = []
    for task in tasks:
        graded = [o for o in outcomes.values() if task.number in o.tasks]
        failed = [o for o in graded if o.failure is not None]
        own = [o for o in failed if hit_task(o) == task.number]  # its stub's message says most
        first = (own or failed)[0] if failed else None
        reason = "" if first is None else describe(first)
        status = f"{len(graded) - len(failed)}/{len(graded)}"
        rows.append([task.number, task.what, status, reason, task.section])
    return rows


def describe(outcome: Outcome) -> str:
    """A failure in one short line: a stub says which task is not written yet."""
    hit = hit_task(outcome)
    if hit is not None:
        return f"task {hit} is a stub"
    return shorten(outcome.failure or "failed")


def shorten(text: str, width: int = 50) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def format_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def grade(week: int, root: Path = REPO_ROOT) -> int:
    """Print the week's table; 0 when every test of the week passes."""
    folders = week_folders(root)
    if week not in folders:
        raise CourseError(f"WEEK={week}: must be one of {', '.join(map(str, folders))}")
    earlier = stubs_left(range(1, week), root)
    if earlier:
        for line in earlier:
            print(line)
        first = min(int(line.split()[1]) for line in earlier)
        raise CourseError(f"finish the earlier weeks first: make check WEEK={first}")
    tasks = [task for task in all_tasks(root) if task.week == week]
    outcomes = run_tests(folders[week] / "tests")  # the lesson's tests (not a sub-lesson's)
    print()
    header = ["task", "what to write", "tests", "first failure", "lesson section"]
    print(format_rows(header, grade_rows(tasks, outcomes)))
    unmarked = [(name, o) for name, o in outcomes.items() if o.failure and not o.tasks]
    for name, outcome in unmarked:
        print(f"also failing (no task mark): {name}: {describe(outcome)}")
    failed = sum(1 for o in outcomes.values() if o.failure is not None)
    if failed:
        print(f"\nweek {week}: {failed} of {len(outcomes)} tests fail")
        return 1
    print(f"\nweek {week}: all {len(tasks)} tasks pass ({len(outcomes)} tests)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.grading",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("week", type=int, help="the week to grade, 1 to 6")
    args = parser.parse_args(argv)
    sys.stdout.flush()
    return grade(args.week)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
