"""`make train NPROC=N`: check the command once, start torchrun, and let a failure read as one line.

    python -m week6_optimizations.distributed launch --nproc N [the train arguments]

1. NPROC must be a whole number of processes that this machine can run side by side: at most its
   CPU cores on a CPU (each process needs one), its GPUs on CUDA (one process per GPU), one on MPS.
2. The train command is checked once, in this process (`check`): a typo in the config or an
   existing run folder is one line from one process, not N failures.
3. torchrun starts N ranks (`python -m torch.distributed.run --standalone --nproc_per_node=N -m
   week6_optimizations.distributed train ...`, one thread each, OMP_NUM_THREADS=1).

The ranks' output streams through as they print it (stdout untouched, stderr relayed as it comes),
with two exceptions that make a failure end on the line that explains it:

- a rank's `error: ...` line (rank 0 reports a user error; the others stop silently) is held back
  and printed last;
- torchrun's own report of a failure (its log lines, and the traceback of its `ChildFailedError`
  with a box of details) is hidden and summarised in one line before that.

A rank's own traceback (a bug, not a user error) is shown as it is. Ctrl-C stops every rank the
way one process stops: torchrun passes one SIGINT to each rank, every rank finishes its step,
last.pt is saved and the resume command printed; a second Ctrl-C stops them at once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

import torch

from shared.errors import CourseError
from week6_optimizations.distributed.launch import cpu_cores

HELD_LINE = b"error: "  # a rank's one-line user error (shared.errors.run_cli prints it)
TRACEBACK = b"Traceback (most recent call last):"
TORCHRUN_EXCEPTION = b"torch.distributed.elastic."  # ChildFailedError, SignalException
# torchrun's agent logs like glog: "E1202 00:00:32.117000 5266 .../torch/distributed/elastic/..."
TORCHRUN_LOG = re.compile(rb"[IWEF]\d{4} [\d:.]+ +\d+ \S*torch/distributed/elastic/")
LOG_START = re.compile(rb"[IWEF]\d{0,4}$|[IWEF]\d{4} ")  # a line that may become such a one
ROOT_CAUSE = re.compile(rb"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", re.DOTALL)


# ----------------------------------------------------------------------------- NPROC


def parse_nproc(value: str) -> int:
    """NPROC as a number of processes: a positive integer, or one line naming NPROC."""
    text = value.strip()
    if not (text.isdecimal() and int(text) >= 1):
        raise CourseError(
            f"NPROC={value}: the number of processes must be a positive integer (1, 2, ...); "
            "leave NPROC out to train in one process"
        )
    return int(text)


def process_capacity(device: torch.device) -> tuple[int, str]:
    """How many processes can train side by side on `device` here, and why that many."""
    if device.type == "cuda" and device.index is not None:
        return 1, f"run.device={device} names one GPU"
    if device.type == "cuda":
        count = torch.cuda.device_count()
        return count, f"{count} GPU(s), one process each"
    if device.type == "mps":
        return 1, "no distributed backend can share the MPS device"
    cores = cpu_cores()
    return cores, f"{cores} CPU core(s), one process each"


def check_nproc(nproc: int, device: torch.device) -> None:
    """Refuse more processes than the device can hold (one line naming NPROC)."""
    capacity, reason = process_capacity(device)
    if nproc > capacity:
        raise CourseError(
            f"NPROC={nproc}: at most {capacity} process(es) can train together on {device} here "
            f"({reason}); use NPROC={capacity} or fewer"
        )


def torchrun_command(nproc: int, train_args: Sequence[str]) -> list[str]:
    """torchrun, as the module of this interpreter, starting `nproc` ranks of the train command."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "week6_optimizations.distributed",
        "train",
        *train_args,
    ]


# ----------------------------------------------------------------------------- the relay


class StderrRelay:
    """Pass the ranks' stderr through as it comes; hold back their `error:` lines and hide
    torchrun's failure report (see the module docstring).

    Text arrives in chunks that cut lines anywhere. A piece of a line is written at once unless
    it may still turn out to be held (it starts like `error: `, a traceback, or a log line), so
    progress bars, which redraw one line with carriage returns, stay live.
    """

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self.write = write
        self.line = b""  # the start of the current line, not yet decided
        self.passing = False  # the current line was decided: pass the rest through
        self.traceback: list[bytes] | None = None  # a traceback held until its exception line
        self.report: bytes | None = None  # torchrun's failure report, hidden
        self.errors: list[bytes] = []  # the ranks' `error:` lines, for the end

    def feed(self, data: bytes) -> None:
        if self.passing and LOG_START.match(data):
            # torchrun logs while rank 0's progress bar holds the line open (a bar redraws
            # with \r and never ends its line): a write of its own starts a line of its own
            self.passing = False
        while data:
            if self.report is not None:
                self.report += data
                return
            cut = _line_end(data)
            piece, data = (data, b"") if cut < 0 else (data[: cut + 1], data[cut + 1 :])
            if self.passing:
                self.write(piece)
                self.passing = cut < 0
                continue
            self.line += piece
            if cut >= 0:
                self._line_done(self.line)
                self.line = b""
            elif not self._may_be_held(self.line):
                self.write(self.line)
                self.line, self.passing = b"", True

    def finish(self) -> None:
        """End of the stream: write whatever was held for a decision that never came."""
        for held in [*(self.traceback or []), self.line]:
            if held:
                self.write(held)
        self.traceback, self.line = None, b""

    def summary(self) -> str | None:
        """torchrun's hidden report in one line: which rank failed first, with what exit code."""
        if self.report is None:
            return None
        found = ROOT_CAUSE.search(self.report)
        if found is None:
            return "torchrun: the ranks stopped (its report is hidden here)"
        rank, code = int(found.group(1)), int(found.group(2))
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return f"torchrun: rank {rank} failed first ({how}); its report is hidden here"

    def root_cause_code(self) -> int | None:
        found = ROOT_CAUSE.search(self.report or b"")
        return int(found.group(2)) if found else None

    def _may_be_held(self, start: bytes) -> bool:
        if self.traceback is not None:
            return True
        return (
            HELD_LINE.startswith(start[: len(HELD_LINE)])
            or TRACEBACK.startswith(start[: len(TRACEBACK)])
            or LOG_START.match(start) is not None
        )

    def _line_done(self, line: bytes) -> None:
        if self.traceback is not None:
            self._traceback_line(self.traceback, line)
        elif line.startswith(HELD_LINE):
            self.errors.append(line)
        elif line.startswith(TRACEBACK):
            self.traceback = [line]
        elif TORCHRUN_LOG.match(line) is None:
            self.write(line)

    def _traceback_line(self, held: list[bytes], line: bytes) -> None:
        """Frames are indented; the first line that is not is the exception that ends it."""
        held.append(line)
        if line[:1] in (b" ", b"\t") or not line.strip():
            return
        self.traceback = None
        if line.startswith(TORCHRUN_EXCEPTION):
            self.report = b"".join(held)  # torchrun's own; its report box follows to the end
        else:
            self.write(b"".join(held))  # a rank's traceback: a bug, shown as it is


def _line_end(data: bytes) -> int:
    """The index of the first line ending (\\n, or the \\r of a redrawn progress bar), or -1."""
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    return min(ends) if ends else -1


# ----------------------------------------------------------------------------- running it


def _write_stderr(data: bytes) -> None:
    sys.stderr.flush()
    stream = getattr(sys.stderr, "buffer", None)
    if stream is None:  # a text-only stderr (a test's capture)
        sys.stderr.write(data.decode("utf-8", errors="replace"))
    else:
        stream.write(data)
        stream.flush()


def stop_ranks(process: subprocess.Popen, interrupts: int) -> None:
    """The first Ctrl-C goes to torchrun, which hands each rank one SIGINT (finish the step,
    save, stop); another goes to every rank directly (stop at once)."""
    if process.poll() is not None:
        return
    if interrupts == 1:
        process.send_signal(signal.SIGINT)
    else:
        os.killpg(process.pid, signal.SIGINT)


def run_torchrun(command: Sequence[str], write: Callable[[bytes], None] = _write_stderr) -> int:
    """Run torchrun with its stderr relayed; return its exit code, or raise KeyboardInterrupt
    once the ranks have stopped after a Ctrl-C."""
    # One thread per rank, as `threads_per_process` sets them anyway. torchrun's own warnings
    # (a signal received, a rank sent SIGTERM) are left out: they land in the middle of rank 0's
    # progress bar. Its errors come at the start of a line, and the relay summarises them.
    env = dict(os.environ, OMP_NUM_THREADS="1", LOGLEVEL=os.environ.get("LOGLEVEL", "ERROR"))
    # Its own process group: a Ctrl-C in the terminal reaches this process alone, and it decides
    # what the ranks get (one SIGINT each, through torchrun).
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, process_group=0)
    assert process.stderr is not None  # a pipe, as asked for
    relay = StderrRelay(write)
    interrupts = 0
    while True:
        try:
            chunk = os.read(process.stderr.fileno(), 65536)
            if not chunk:
                break
            relay.feed(chunk)
        except KeyboardInterrupt:
            interrupts += 1
            stop_ranks(process, interrupts)
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:
            interrupts += 1
            stop_ranks(process, interrupts)
    relay.finish()
    if interrupts:
        raise KeyboardInterrupt
    if code == 0:
        return 0
    summary = relay.summary()
    if summary is not None:
        write(summary.encode() + b"\n")
    for line in relay.errors:
        write(line)
    cause = relay.root_cause_code()
    return cause if cause is not None and cause > 0 else code or 1
