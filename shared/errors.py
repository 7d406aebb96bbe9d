"""User errors, and the one place that turns them into a clear line and a non-zero exit.

Anything a user can get wrong (a config key, a missing file, a bad argument) raises `CourseError`
with a message that names the file, key or value and says what is allowed. Command-line entry
points wrap their `main` in `run_cli`, so a learner sees one line instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


class CourseError(Exception):
    """An error caused by the user's input; its message is meant to be read, not debugged."""


def run_cli(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None
) -> int:
    """Call `main(argv)`; print a `CourseError` as `error: ...` on stderr and return exit code 2."""
    try:
        code = main(argv)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0 if code is None else int(code)
