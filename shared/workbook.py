"""The workbook: the same repository with each milestone's code left for the learner to write.

The reference marks every task in its source, around the lines a learner writes:

    def layer_norm(x: Tensor, weight: Tensor, bias: Tensor | None, eps: float) -> Tensor:
        \"\"\"Normalise each position over its features, then scale and shift.\"\"\"
        # BEGIN TASK 3.1 [LayerNorm]: normalise over the last dimension, then scale and shift
        mean = x.mean(-1, keepdim=True)
        ...
        # END TASK 3.1

`3.1` is week 3's first task, `[LayerNorm]` the section of the week's README.md that teaches it,
and the text after the colon says what to write. The markers are comments, so the reference runs
unchanged. The learner's edition keeps the marker lines, the signature and the docstring, and
replaces the lines between them with

        raise NotImplementedError("Task 3.1: normalise ... - see <lesson>, section LayerNorm")

so the same tests grade it (`make check WEEK=3`, shared/grading.py). Putting the reference lines
back between the markers gives the reference file byte for byte.

    python -m shared.workbook write ../tiny-gpt-workbook [--from 4]     (make workbook)
    python -m shared.workbook check                                     the markers' rules
    python -m shared.workbook left [--through N]                        the stubs still there
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.errors import CourseError, run_cli
from shared.paths import REPO_ROOT

BEGIN = re.compile(
    r"^(?P<indent>[ ]*)# BEGIN TASK (?P<number>\d+\.\d+) \[(?P<section>[^\]]+)\]: (?P<what>.+)$"
)
END = re.compile(r"^[ ]*# END TASK (?P<number>\d+\.\d+)$")
STUB = re.compile(r'raise NotImplementedError\(\s*"Task (?P<number>\d+\.\d+): ')
LINE_LENGTH = 100  # pyproject.toml's [tool.ruff] line-length
WEEK_FOLDER = re.compile(r"^week(?P<week>\d+)_\w+$")
# A lesson that shows a task's answer (week 6's diffs) wraps it so that the workbook leaves it out.
ANSWER = re.compile(r"^<!-- (?P<end>END )?ANSWER (?P<number>\d+\.\d+) -->$")


@dataclass(frozen=True)
class Task:
    """One marked region: where it is, what it asks, and the reference lines inside it."""

    number: str  # "3.1"
    what: str
    section: str
    path: Path  # relative to the repository root
    begin: int  # index of the BEGIN line in the file's lines
    body: tuple[str, ...]  # the reference lines between BEGIN and END, with their newlines

    @property
    def week(self) -> int:
        return int(self.number.split(".")[0])

    @property
    def lesson(self) -> str:
        return f"{self.path.parts[0]}/README.md"

    def stub(self, indent: str) -> str:
        """The lines that replace the body in the learner's edition: one `raise`, laid out as
        `ruff format` lays it out (a long message split into strings of at most LINE_LENGTH)."""
        message = f"Task {self.number}: {self.what} - see {self.lesson}, section {self.section}"
        one_line = f"{indent}raise NotImplementedError({quoted(message)})\n"
        if len(one_line) <= LINE_LENGTH + 1:
            return one_line
        inner = indent + " " * 4
        pieces = split_words(message, LINE_LENGTH - len(inner) - 2)
        strings = "".join(f"{inner}{quoted(piece)}\n" for piece in pieces)
        return f"{indent}raise NotImplementedError(\n{strings}{indent})\n"


def quoted(text: str) -> str:
    """`text` as a double-quoted Python string literal."""
    return json.dumps(text, ensure_ascii=False)


def split_words(text: str, width: int) -> list[str]:
    """`text` cut after spaces into pieces whose literals fit in `width` (a word longer than
    `width` stays whole); joined, the pieces give `text` back."""
    pieces, current = [], ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and len(quoted(candidate + " ")) - 2 > width:
            pieces.append(current + " ")
            current = word
        else:
            current = candidate
    return [*pieces, current]


def week_folders(root: Path) -> dict[int, Path]:
    """The week packages under `root`, by number."""
    found = {}
    for folder in sorted(root.iterdir()):
        match = WEEK_FOLDER.match(folder.name)
        if match and folder.is_dir():
            found[int(match["week"])] = folder
    return found


def source_files(root: Path) -> list[Path]:
    """Every module of every week, tests left out (tests are never stubbed)."""
    return [
        path
        for folder in week_folders(root).values()
        for path in sorted(folder.rglob("*.py"))
        if "tests" not in path.relative_to(folder).parts
    ]


def tasks_in(text: str, path: Path) -> list[Task]:
    """The tasks marked in one file; unbalanced or nested markers are a `CourseError`."""
    lines = text.splitlines(keepends=True)
    tasks, open_task = [], None
    for index, line in enumerate(lines):
        begin, end = BEGIN.match(line.rstrip("\n")), END.match(line.rstrip("\n"))
        marker = line.strip()
        if marker.startswith(("# BEGIN TASK", "# END TASK")) and not (begin or end):
            raise CourseError(
                f"{path}:{index + 1}: a task marker reads "
                '"# BEGIN TASK N.M [section]: what to write" or "# END TASK N.M"'
            )
        if begin:
            if open_task is not None:
                raise CourseError(
                    f"{path}:{index + 1}: task {begin['number']} begins inside "
                    f"task {open_task['number']}"
                )
            open_task, start = begin, index
        elif end:
            if open_task is None or end["number"] != open_task["number"]:
                raise CourseError(f"{path}:{index + 1}: END TASK {end['number']} without its BEGIN")
            body = tuple(lines[start + 1 : index])
            tasks.append(
                Task(
                    open_task["number"], open_task["what"], open_task["section"], path, start, body
                )
            )
            open_task = None
    if open_task is not None:
        raise CourseError(f"{path}: task {open_task['number']} has no END TASK line")
    return tasks


def all_tasks(root: Path = REPO_ROOT) -> list[Task]:
    """Every task of the course, in week and number order."""
    found = [
        task
        for path in source_files(root)
        for task in tasks_in(path.read_text(encoding="utf-8"), path.relative_to(root))
    ]
    return sorted(found, key=lambda t: tuple(int(p) for p in t.number.split(".")))


def stub_text(text: str, path: Path, from_week: int = 1) -> str:
    """The learner's version of a file: each task of week >= from_week becomes its stub."""
    lines = text.splitlines(keepends=True)
    for task in reversed(tasks_in(text, path)):
        if task.week >= from_week:
            indent = BEGIN.match(lines[task.begin].rstrip("\n"))["indent"]  # type: ignore[index]
            start, stop = task.begin + 1, task.begin + 1 + len(task.body)
            lines[start:stop] = [task.stub(indent)]
    return "".join(lines)


def hide_answers(text: str, path: Path, from_week: int = 1) -> str:
    """The learner's version of a lesson: each `<!-- ANSWER N.M -->` ... `<!-- END ANSWER N.M -->`
    region of a task of week >= from_week becomes a note that the answer is theirs to write."""
    out, hiding = [], None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = ANSWER.match(line.rstrip("\n"))
        if marker and not marker["end"]:
            if hiding is not None:
                raise CourseError(f"{path}:{number}: ANSWER {marker['number']} inside {hiding}")
            out.append(line)
            if int(marker["number"].split(".")[0]) >= from_week:
                hiding = marker["number"]
                out.append(
                    f"*Task {hiding} is yours to write: this block shows its answer in the "
                    "reference edition, so the workbook leaves it out.*\n"
                )
        elif marker:
            if hiding not in (None, marker["number"]):
                raise CourseError(f"{path}:{number}: END ANSWER {marker['number']} inside {hiding}")
            hiding = None
            out.append(line)
        elif hiding is None:
            out.append(line)
    if hiding is not None:
        raise CourseError(f"{path}: ANSWER {hiding} has no END ANSWER line")
    return "".join(out)


def restore_text(workbook_text: str, reference: Sequence[Task]) -> str:
    """Put the reference bodies back between the markers of a learner's file."""
    bodies = {task.number: task.body for task in reference}
    lines = workbook_text.splitlines(keepends=True)
    out, index = [], 0
    while index < len(lines):
        out.append(lines[index])
        begin = BEGIN.match(lines[index].rstrip("\n"))
        if begin:
            end = next(i for i in range(index, len(lines)) if END.match(lines[i].rstrip("\n")))
            if STUB.match("".join(lines[index + 1 : end]).lstrip()):
                out.extend(bodies[begin["number"]])
                index = end - 1  # the stub's lines are dropped; the END line comes next
        index += 1
    return "".join(out)


def tracked_files(root: Path) -> list[Path]:
    """The files git tracks (the repository as cloned), relative to `root`."""
    result = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
    names = [name for name in result.stdout.decode("utf-8").split("\0") if name]
    return [Path(name) for name in names if (root / name).is_file()]


def write_workbook(dest: Path, from_week: int = 1, root: Path = REPO_ROOT) -> int:
    """Write the learner's edition into `dest` (a new folder) as a git repository with one
    commit; returns the number of stubbed tasks. Refuses a folder that exists."""
    if dest.exists():
        raise CourseError(f"{dest}: already exists; the workbook is written into a new folder")
    if from_week not in week_folders(root):
        raise CourseError(
            f"--from {from_week}: must be a week number, 1 to {max(week_folders(root))}"
        )
    stubbed = sum(1 for task in all_tasks(root) if task.week >= from_week)
    sources = {path.relative_to(root) for path in source_files(root)}
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    stubbed_files = []
    lesson_folders = {folder.name for folder in week_folders(root).values()}
    try:
        for relative in tracked_files(root):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if relative in sources:
                text = (root / relative).read_text(encoding="utf-8")
                learner = stub_text(text, relative, from_week)
                target.write_text(learner, encoding="utf-8")
                if learner != text:
                    stubbed_files.append(relative)
            elif relative.suffix == ".md" and relative.parts[0] in lesson_folders:
                text = (root / relative).read_text(encoding="utf-8")
                target.write_text(hide_answers(text, relative, from_week), encoding="utf-8")
            else:
                shutil.copy2(root / relative, target)
        if stubbed_files:
            (staging / "ruff.toml").write_text(lint_allowance(stubbed_files), encoding="utf-8")
        git = ["git", "-c", "user.name=Tiny GPT course", "-c", "user.email=course@localhost"]
        subprocess.run([*git, "init", "-q"], cwd=staging, check=True)
        subprocess.run([*git, "add", "-A"], cwd=staging, check=True)
        message = f"The workbook: weeks {from_week}-6 to write (make check WEEK=N grades them)"
        subprocess.run([*git, "commit", "-q", "-m", message], cwd=staging, check=True)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return stubbed


def lint_allowance(stubbed_files: Sequence[Path]) -> str:
    """The edition's ruff.toml: the course's settings, and unused names allowed where stubs are
    (an import or variable that only a task's lines use is unused until the learner writes them)."""
    lines = [
        "# Written by `make workbook`: the course's ruff settings (pyproject.toml), and one",
        "# allowance. A stub leaves the imports and variables its task's code needs unused",
        "# (ruff's F401, F841) until you write the task. Delete this file when every task is",
        "# done: the reference has no such allowance.",
        'extend = "pyproject.toml"',
        "",
        "[lint.extend-per-file-ignores]",
        *(f'"{path.as_posix()}" = ["F401", "F841"]' for path in sorted(stubbed_files)),
    ]
    return "\n".join(lines) + "\n"


def stubs_left(weeks: Iterable[int] | None = None, root: Path = REPO_ROOT) -> list[str]:
    """'week 3 task 3.2 is not done yet (<file>)' for each stub still there (in `weeks`; None:
    every week), in task order. The reference has none; a learner's edition has one per task
    not yet written."""
    weeks = set(week_folders(root)) if weeks is None else set(weeks)
    left = []
    for path in source_files(root):
        for match in STUB.finditer(path.read_text(encoding="utf-8")):
            week, task = map(int, match["number"].split("."))
            if week in weeks:
                where = path.relative_to(root)
                left.append(
                    ((week, task), f"week {week} task {week}.{task} is not done yet ({where})")
                )
    return [line for _, line in sorted(left)]


def graded_tasks(root: Path = REPO_ROOT) -> dict[str, list[str]]:
    """Task number -> the test files whose tests carry `@pytest.mark.task("N.M", ...)`."""
    marker = re.compile(r"pytest\.mark\.task\((?P<args>[^)]*)\)")
    number = re.compile(r"""(["'])(?P<number>\d+\.\d+)\1""")
    graded: dict[str, list[str]] = {}
    for folder in week_folders(root).values():
        for path in sorted(folder.rglob("test_*.py")):
            for mark in marker.finditer(path.read_text(encoding="utf-8")):
                for match in number.finditer(mark["args"]):
                    graded.setdefault(match["number"], []).append(str(path.relative_to(root)))
    return graded


def marker_problems(root: Path = REPO_ROOT) -> list[str]:
    """What breaks the rules: numbers unique, each task in its own week's folder, numbered
    1, 2, ... within a week, graded by at least one test, named in the week's lesson, and its
    answer shown in a lesson only inside an ANSWER region."""
    problems: list[str] = []
    by_week: dict[int, list[int]] = {}
    tasks = all_tasks(root)
    seen: set[str] = set()
    for task in tasks:
        if task.number in seen:
            problems.append(f"task {task.number} is marked twice")
        seen.add(task.number)
        folder = week_folders(root).get(task.week)
        if folder is None or task.path.parts[0] != folder.name:
            problems.append(f"task {task.number} lies in {task.path}, not in week {task.week}")
        by_week.setdefault(task.week, []).append(int(task.number.split(".")[1]))
        lesson = root / task.lesson
        if not lesson.is_file() or f"Task {task.number}" not in lesson.read_text(encoding="utf-8"):
            problems.append(f"task {task.number} is not named in {task.lesson}")
    for week, numbers in by_week.items():
        if sorted(numbers) != list(range(1, len(numbers) + 1)):
            problems.append(f"week {week}'s tasks are numbered {sorted(numbers)}, not 1, 2, ...")
    graded = graded_tasks(root)
    for task in tasks:
        if task.number not in graded:
            problems.append(f"task {task.number} is graded by no test (pytest.mark.task)")
    for number in sorted(set(graded) - seen):
        problems.append(f"tests grade task {number}, which is marked nowhere")
    return problems + answer_problems(tasks, root)


def code_key(line: str) -> str:
    """A line of code without its comment and spaces: how a lesson's copy of it is recognised."""
    return re.sub(r"\s+", "", line.split("#")[0])


def answer_problems(tasks: Sequence[Task], root: Path) -> list[str]:
    """ANSWER regions that are broken or name no task, and task lines that a week's lessons show
    outside them (the workbook would print the answer next to the stub)."""
    problems = []
    numbers = {task.number for task in tasks}
    for folder in week_folders(root).values():
        for path in sorted(folder.rglob("*.md")):
            relative = path.relative_to(root)
            text = path.read_text(encoding="utf-8")
            try:
                shown = {code_key(line) for line in hide_answers(text, relative).splitlines()}
            except CourseError as error:
                problems.append(str(error))
                continue
            for match in re.finditer(r"<!-- ANSWER (\d+\.\d+) -->", text):
                if match[1] not in numbers:
                    problems.append(f"{relative}: ANSWER {match[1]} names no task")
            for task in (t for t in tasks if t.path.parts[0] == folder.name):
                leaked = [line for line in task.body if len(code_key(line)) > 15]
                leaked = [line.strip() for line in leaked if code_key(line) in shown]
                if leaked:
                    problems.append(
                        f"{relative} shows task {task.number}'s line {leaked[0]!r} outside an "
                        f"ANSWER region (<!-- ANSWER {task.number} --> ... "
                        f"<!-- END ANSWER {task.number} -->)"
                    )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.workbook",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="write the learner's edition into a new folder")
    write.add_argument("dest", type=Path)
    write.add_argument(
        "--from",
        dest="from_week",
        type=int,
        default=1,
        help="weeks before this one stay solved (default 1: every week to write)",
    )
    commands.add_parser("check", help="check the task markers")
    left = commands.add_parser("left", help="list the tasks still stubs (nothing: none left)")
    left.add_argument("--through", type=int, help="only weeks 1 to this one")
    args = parser.parse_args(argv)
    if args.command == "left":
        through = max(week_folders(REPO_ROOT)) if args.through is None else args.through
        print("\n".join(stubs_left(range(1, through + 1))), end="")
        return 0
    if args.command == "check":
        problems = marker_problems()
        for problem in problems:
            print(problem)
        if problems:
            raise CourseError(f"{len(problems)} problem(s) with the task markers")
        print(f"{len(all_tasks())} tasks, every one marked, graded and named in its lesson")
        return 0
    dest = args.dest.resolve()
    stubbed = write_workbook(dest, args.from_week)
    print(f"wrote the workbook to {dest}: {stubbed} tasks to write, weeks {args.from_week}-6")
    print(f"start with: cd {dest} && make setup && make check WEEK={args.from_week}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
