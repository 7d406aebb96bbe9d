"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Write to a temporary file in the same folder, flush it to disk, then `os.replace` it over the
target: on POSIX and Windows the rename is atomic, so a crash mid-write leaves the previous
file intact and only a stray temporary behind, which is removed if Python gets the chance
(and by `remove_stray_temporaries` when the process was killed before it could).

Every file the course writes goes through here, so this is also the one place that makes a
failed write say what failed and where: `no space left on device: runs/x/last.pt`, naming the
file the user asked for rather than the temporary, and never a library's traceback.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from shared.errors import CourseError


def temporary_name(target: Path) -> Path:
    """`.<name>.<8 random characters>.tmp` beside `target`: hidden, and recognisably ours."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def _create_temporary(target: Path) -> Path:
    """Create a new, empty temporary file beside `target` and return its path.

    `os.open` with mode 0o666 lets the umask decide the permissions, exactly as a plain
    `open(path, "w")` does (0644 under the usual umask 022); `tempfile.mkstemp` would give 0600,
    a file other users (a web server, a colleague) could not read.
    """
    while True:
        tmp = temporary_name(target)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # pragma: no cover - 4 billion names: a second try is plenty
            continue
        except OSError as error:  # a read-only folder, a full disk: name the file we were asked for
            raise _named(error, target, tmp) from None
        return tmp


def _named(error: OSError, target: Path, tmp: Path) -> OSError:
    """The same error, naming `target` where it named the temporary file or no file at all."""
    if error.filename is not None and str(error.filename) != str(tmp):
        return error
    return OSError(error.errno, error.strerror or str(error), str(target))


def _os_error_within(error: BaseException | None) -> OSError | None:
    """The OSError behind `error`, if any: `torch.save` reports a failed write (a full disk) as
    a RuntimeError from its C++ writer, with the OSError our file raised as its context. A
    `CourseError` already says what went wrong, and is left as it is."""
    while error is not None and not isinstance(error, CourseError):
        if isinstance(error, OSError):
            return error
        hidden = error.__suppress_context__  # `raise ... from None` hid the context on purpose
        error = error.__cause__ if error.__cause__ is not None or hidden else error.__context__
    return None


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target`, on error it goes.

    An OSError on the way (a full disk, a read-only folder) comes out naming `target`.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(target)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except Exception as error:
        cause = _os_error_within(error)
        if cause is None:
            raise
        raise _named(cause, target, tmp) from None
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(target: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(file)` on a temporary binary file, then move it over `target`; whatever
    `write` returns (a byte count, say) is ignored."""
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        write(handle)


def atomic_write_text(target: str | Path, text: str) -> None:
    atomic_write(target, lambda handle: handle.write(text.encode("utf-8")))


def stray_temporaries(folder: str | Path, names: Iterable[str]) -> list[Path]:
    """The temporary files a killed writer left in `folder` for targets called `names`.

    Only our own pattern counts (`.last.pt.k3x9a2bq.tmp` for `last.pt`): 8 characters as the
    writer makes them now (hex) or made them before (tempfile's letters, digits and `_`).
    """
    folder = Path(folder)
    pattern = re.compile(
        r"\.(" + "|".join(re.escape(name) for name in names) + r")\.[A-Za-z0-9_]{8}\.tmp"
    )
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and pattern.fullmatch(p.name))


def remove_stray_temporaries(folder: str | Path, names: Iterable[str]) -> list[Path]:
    """Delete what `stray_temporaries` finds; only safe while no one else writes `folder`."""
    found = stray_temporaries(folder, names)
    for path in found:
        path.unlink(missing_ok=True)
    return found
