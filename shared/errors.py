"""User errors, and the one place that turns them into a clear line and a non-zero exit.

Anything a user can get wrong (a config key, a missing file, a bad argument) raises `CourseError`
with a message that names the file, key or value and says what is allowed. Command-line entry
points go through `run_cli` (or `run_module`, which also covers the imports), so a learner sees
one line instead of a traceback:

    CourseError            error: <its message>                      exit 2
    OSError with a path    error: <what the system said>: <path>     exit 1  (a full disk, a
                                                                      read-only or missing folder)
    Ctrl-C                 interrupted                               exit 130
    a workbook stub        error: not written yet: Task 3.2: ...     exit 2  (the learner's
                                                                      edition, shared/workbook.py)

Anything else is a bug in the course, and keeps its traceback so that it can be reported.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

EXIT_USER_ERROR = 2
EXIT_SYSTEM_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C


class CourseError(Exception):
    """An error caused by the user's input; its message is meant to be read, not debugged."""


def describe_os_error(error: OSError) -> str | None:
    """`no space left on device: runs/x/last.pt`, or None when the error names no file.

    An OSError that names a file is about the user's machine (a full disk, a read-only folder, a
    path whose parent is a file), not about the course's code: it gets one line, like a
    `CourseError`. Without a file name it could be anything, so it keeps its traceback.
    """
    if error.filename is None:
        return None
    reason = (error.strerror or os.strerror(error.errno or 0) or type(error).__name__).lower()
    target = f"{error.filename}" + (f" -> {error.filename2}" if error.filename2 else "")
    return f"{reason}: {target}"


def _ctrl_c_raises() -> None:
    """From here on Ctrl-C is Python's KeyboardInterrupt again (see shared/__init__.py: while a
    command loads, Ctrl-C ends it at once), so a training loop can catch it and save its state."""
    handler = signal.getsignal(signal.SIGINT)
    ours = getattr(handler, "__module__", None) == "shared"  # the handler shared/__init__ set
    if ours and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run_cli(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None
) -> int:
    """Call `main(argv)` and turn what the user can cause into one line and an exit code (above)."""
    _ctrl_c_raises()
    try:
        code = main(argv)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except NotImplementedError as error:
        if not str(error).startswith("Task "):
            raise
        print(f"error: not written yet: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as error:
        message = describe_os_error(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_SYSTEM_ERROR
    return 0 if code is None else int(code)


def run_module(module: str, argv: Sequence[str] | None = None) -> int:
    """Import `module` and run its `main` through `run_cli`: what each `__main__.py` does.

    Importing a week loads PyTorch, which takes seconds; a Ctrl-C in those seconds is still a
    plain `interrupted`, not a traceback from deep inside an import.
    """
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run_cli(main, argv)
