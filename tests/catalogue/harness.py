"""The catalogue's tools: run a real command as a learner would, and check how it failed.

Every case of the catalogue is a bad input or a fault (a typo in a knob, a damaged file, a full
disk, a Ctrl-C). The course must answer each the same way, and `assert_refused` checks exactly
that: a non-zero exit, no traceback anywhere, a last line that names the file, key or value and
what is allowed, and (with a `Snapshot`) nothing of the user's changed.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import runpy
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300
MAKE_REPORT = re.compile(r"^make(\[\d+\])?: \*\*\* ")


@dataclass
class Result:
    """What a command did: its exit code and everything it printed."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def last_line(self) -> str:
        """The last non-empty line the command printed (stderr is printed after stdout here).

        After any failing command GNU make adds a line of its own, `make: *** [Makefile:93:
        train] Error 2` (or `Interrupt`), which no Makefile can turn off; it names the target
        that failed, so the command's own last line is the one before it.
        """
        for stream in (self.stderr, self.stdout):
            lines = [line for line in stream.splitlines() if line.strip()]
            lines = [line for line in lines if not MAKE_REPORT.match(line)]
            if lines:
                return lines[-1].strip()
        return ""

    def __str__(self) -> str:  # what a failing assertion shows
        return (
            f"$ {' '.join(self.args)}\nexit {self.returncode}\n--- stdout\n{self.stdout[-3000:]}"
            f"\n--- stderr\n{self.stderr[-3000:]}"
        )


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    env.update(extra or {})
    return env


def _decode(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def command(
    args: Iterable[str],
    *,
    stdin: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path = ROOT,
    timeout: float = TIMEOUT,
) -> Result:
    """Run `args` (a whole command line) and collect what it did."""
    args = [str(a) for a in args]
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    done = subprocess.run(
        args,
        cwd=cwd,
        env=_env(env),
        input=data if data is not None else b"",
        capture_output=True,
        timeout=timeout,
    )
    return Result(args, done.returncode, _decode(done.stdout), _decode(done.stderr))


def course(*args: str, process: bool = False, **kwargs) -> Result:
    """`python -m <args>` from the repository root: the commands the Makefile runs.

    By default the command runs in this interpreter, exactly as `python -m` would run it (its
    `__main__` with its own argv, environment, working folder and standard streams), because a
    new interpreter spends seconds of CPU importing PyTorch, and the catalogue runs a hundred
    commands. `process=True` starts a new interpreter: for what only a process shows (a signal,
    the first seconds of start-up). A traceback is caught and printed as Python would print it,
    so `assert_refused` sees it either way.
    """
    if process:
        return command([sys.executable, "-m", *args], **kwargs)
    return in_this_process(*args, **kwargs)


def in_this_process(
    module: str,
    *args: str,
    stdin: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path = ROOT,
    timeout: float = TIMEOUT,
) -> Result:
    """`python -m module args` run by `runpy` here; everything it changes of the process (argv,
    environment, folder, streams) is put back afterwards."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else (stdin or b"")
    streams = {name: io.TextIOWrapper(io.BytesIO(), encoding="utf-8") for name in ("out", "err")}
    saved = (sys.argv, sys.stdin, sys.stdout, sys.stderr, dict(os.environ), os.getcwd())
    argv = [sys.executable, "-m", module, *map(str, args)]
    code = 0
    try:
        os.environ.clear()
        os.environ.update(_env(env))
        os.chdir(cwd)
        sys.argv = [module, *map(str, args)]
        sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        sys.stdout, sys.stderr = streams["out"], streams["err"]
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:  # noqa: BLE001 - what Python prints for an uncaught exception
            traceback.print_exc()
            code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.argv, sys.stdin, sys.stdout, sys.stderr, environ, folder = saved
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(folder)
    out, err = (_decode(streams[name].buffer.getvalue()) for name in ("out", "err"))
    return Result(argv, code, out, err)


def make(target: str, *knobs: str, **kwargs) -> Result:
    """`make <target> KNOB=value ...` from the repository root, as the README shows it."""
    return command(["make", "--no-print-directory", "-s", target, *knobs], **kwargs)


def interrupted(
    args: Iterable[str],
    *,
    after: str | float,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    cwd: str | Path = ROOT,
) -> Result:
    """Start `args`, press Ctrl-C (SIGINT) once `after` appears in its output (or after that many
    seconds), and collect what it did."""
    args = [str(a) for a in args]
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=_env(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if isinstance(after, str) else subprocess.PIPE,
    )
    if stdin is not None:
        process.stdin.write(stdin)
        process.stdin.flush()
    seen = b""
    if isinstance(after, str):
        os.set_blocking(process.stdout.fileno(), False)
        deadline = time.monotonic() + TIMEOUT
        while after.encode() not in seen and time.monotonic() < deadline:
            if process.poll() is not None:
                break
            chunk = process.stdout.read()
            seen += chunk or b""
            time.sleep(0.05)
        os.set_blocking(process.stdout.fileno(), True)
    else:
        time.sleep(after)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=TIMEOUT)
    return Result(args, process.returncode, _decode(seen + (out or b"")), _decode(err))


def assert_refused(result: Result, *names: str, code: int | None = None) -> None:
    """The catalogue's rule: a non-zero exit (or exactly `code`), no traceback, and a last line
    that names every one of `names` (the file, key or value, and what is allowed)."""
    assert result.returncode != 0, result
    if code is not None:
        assert result.returncode == code, result
    assert "Traceback" not in result.output, result
    last = result.last_line
    for name in names:
        assert name in last, f"{name!r} not in the last line {last!r}\n{result}"


def assert_interrupted(result: Result) -> None:
    """Ctrl-C: exit 130, no traceback, and a last line that says so."""
    assert_refused(result, code=130)
    assert "interrupted" in result.last_line.lower() or "resume" in result.last_line.lower(), result


class Snapshot:
    """The bytes of every file under some paths, to show that a refused command changed none."""

    def __init__(self, *paths: str | Path) -> None:
        self.paths = [Path(p) for p in paths]
        self.before = self._take()

    def _take(self) -> dict[str, str]:
        seen = {}
        for root in self.paths:
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            for file in files:
                seen[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
        return seen

    def assert_unchanged(self) -> None:
        after = self._take()
        assert after == self.before, {
            "added": sorted(set(after) - set(self.before)),
            "removed": sorted(set(self.before) - set(after)),
            "changed": sorted(k for k in after if k in self.before and after[k] != self.before[k]),
        }


# ----------------------------------------------------------------------------- faults of the disk


def _mount(*args: str) -> bool:
    try:
        done = subprocess.run(["mount", *args], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@contextmanager
def small_disk(path: Path, size: str = "1m"):
    """A folder on a disk of `size` (a tmpfs): writes past it fail with 'no space left on
    device'. Needs root (CI has it); elsewhere the test is skipped with the reason."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)):
        pytest.skip("a full disk is simulated with a tmpfs mount, which needs root (CI has it)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def fill(disk: Path, leave: int = 0) -> None:
    """Fill `disk` until at most `leave` bytes are free."""
    filler = disk / "filler.bin"
    with open(filler, "ab") as handle:
        while True:
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            if free <= leave:
                return
            try:
                handle.write(b"\0" * min(65536, max(free - leave, 1)))
                handle.flush()
            except OSError:
                return


@contextmanager
def read_only(path: Path):
    """`path` made read-only for everyone, root included (a read-only bind mount); skipped with
    the reason where mounting is not allowed. As root, chmod alone would not stop a write."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(mode)
        return
    if not _mount("--bind", str(path), str(path)):
        pytest.skip("a read-only folder is simulated with a bind mount, which needs mount rights")
    try:
        if not _mount("-o", "remount,bind,ro", str(path)):
            pytest.skip("a read-only remount is not allowed here")
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)
