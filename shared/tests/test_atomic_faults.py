"""The atomic writer under faults: what a failed write says, the mode it gives, what it leaves."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from shared.atomic import (
    atomic_path,
    atomic_write,
    atomic_write_text,
    remove_stray_temporaries,
    stray_temporaries,
)
from shared.errors import CourseError


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_written_files_get_the_mode_open_gives_under_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "config.yaml", "run: {}\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "config.yaml").stat().st_mode) == mode


def _full_disk(handle):
    handle.write(b"half a row")
    raise OSError(errno.ENOSPC, "No space left on device")  # what a write() says: no file named


def _like_torch_save(handle):
    """torch.save's C++ writer turns the OSError of our file's write() into a RuntimeError, the
    OSError left as its context."""
    try:
        _full_disk(handle)
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos")  # noqa: B904


@pytest.mark.parametrize("write", [_full_disk, _like_torch_save])
def test_a_full_disk_is_an_os_error_naming_the_target(tmp_path, write):
    target = tmp_path / "last.pt"
    target.write_bytes(b"the previous checkpoint")
    with pytest.raises(OSError) as caught:
        atomic_write(target, write)
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(target)
    assert target.read_bytes() == b"the previous checkpoint"
    assert os.listdir(tmp_path) == ["last.pt"]


def test_a_course_error_is_never_replaced_by_the_os_error_behind_it(tmp_path):
    with pytest.raises(CourseError, match="checksum mismatch"), atomic_path(tmp_path / "f"):
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError:
            raise CourseError("checksum mismatch") from None


def test_an_unwritable_folder_names_the_target_not_the_temporary(tmp_path):
    parent_is_a_file = tmp_path / "notes.txt"
    parent_is_a_file.write_text("mine")
    with pytest.raises(OSError) as caught:
        atomic_write_text(parent_is_a_file / "config.yaml", "x")
    assert str(parent_is_a_file) in str(caught.value.filename)
    assert parent_is_a_file.read_text() == "mine"


def test_stray_temporaries_are_only_the_writers_own(tmp_path):
    ours = [".last.pt.k3x9a2bq.tmp", ".metrics.jsonl.0a1b2c3d.tmp", ".checkpoint.pt.ab_cd123.tmp"]
    not_ours = [".last.pt.notes.tmp", "last.pt.k3x9a2bq.tmp", ".other.pt.k3x9a2bq.tmp", "last.pt"]
    for name in ours + not_ours:
        (tmp_path / name).write_bytes(b"x")
    names = ("last.pt", "checkpoint.pt", "metrics.jsonl")
    assert [p.name for p in stray_temporaries(tmp_path, names)] == sorted(ours)
    remove_stray_temporaries(tmp_path, names)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(not_ours)
    assert stray_temporaries(tmp_path / "missing", names) == []
