"""The one place user errors become one line: CourseError, a file-naming OSError, Ctrl-C."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

import shared
from shared.errors import CourseError, describe_os_error, run_cli, run_module
from shared.flags import parse_yes, yes_flag


def _raising(error: BaseException):
    def main(argv):
        raise error

    return main


def test_a_course_error_is_one_line_and_exit_2(capsys):
    assert run_cli(_raising(CourseError("train.lr: must be a positive number"))) == 2
    assert capsys.readouterr().err == "error: train.lr: must be a positive number\n"


def test_ctrl_c_is_one_line_and_exit_130(capsys):
    assert run_cli(_raising(KeyboardInterrupt())) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "no space left on device"),
        (errno.EROFS, "read-only file system"),
        (errno.ENOTDIR, "not a directory"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_an_os_error_naming_a_file_is_one_line_naming_it(capsys, code, reason):
    error = OSError(code, os.strerror(code), "runs/x/last.pt")
    assert run_cli(_raising(error)) == 1
    assert capsys.readouterr().err == f"error: {reason}: runs/x/last.pt\n"


def test_a_rename_names_both_paths():
    error = OSError(errno.EXDEV, "Invalid cross-device link", "a.tmp", None, "b.pt")
    assert describe_os_error(error) == "invalid cross-device link: a.tmp -> b.pt"


def test_an_os_error_without_a_file_keeps_its_traceback():
    with pytest.raises(OSError):
        run_cli(_raising(OSError(errno.EIO, "Input/output error")))


def test_a_workbook_stub_is_one_line_naming_the_task(capsys):
    stub = NotImplementedError("Task 3.2: the attention weights - see week3_model/README.md")
    assert run_cli(_raising(stub)) == 2
    assert capsys.readouterr().err == f"error: not written yet: {stub}\n"


def test_any_other_not_implemented_error_keeps_its_traceback():
    with pytest.raises(NotImplementedError):
        run_cli(_raising(NotImplementedError("an abstract method")))


def test_a_bug_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError):
        run_cli(_raising(ZeroDivisionError()))


def test_exit_codes_pass_through():
    assert run_cli(lambda argv: None) == 0
    assert run_cli(lambda argv: 3) == 3


def test_run_module_imports_and_runs_main(tmp_path, monkeypatch, capsys):
    (tmp_path / "greeting.py").write_text(
        "def main(argv):\n    print('hello', *argv)\n    return 0\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run_module("greeting", ["world"]) == 0
    assert capsys.readouterr().out == "hello world\n"


def test_ctrl_c_while_importing_is_one_line(tmp_path):
    """A Ctrl-C during the seconds PyTorch takes to import is no traceback either."""
    (tmp_path / "slow_module.py").write_text("raise KeyboardInterrupt\n", encoding="utf-8")
    code = "import sys; from shared.errors import run_module; sys.exit(run_module('slow_module'))"
    repo = Path(shared.__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{repo}"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "interrupted"


@pytest.mark.parametrize("value", ["1", "yes", "true", "YES", "True", " 1 "])
def test_only_an_explicit_yes_means_yes(value):
    assert parse_yes(value, "OVERWRITE") is True


@pytest.mark.parametrize("value", [None, "", "  "])
def test_leaving_a_knob_out_means_no(value):
    assert parse_yes(value, "OVERWRITE") is False


@pytest.mark.parametrize("value", ["0", "no", "false", "y", "2", "please"])
def test_anything_else_is_refused_with_the_allowed_values(value):
    with pytest.raises(CourseError, match=rf"^OVERWRITE={value}: allowed values are 1, yes, true"):
        parse_yes(value, "OVERWRITE")


def test_yes_flag_is_an_argparse_type():
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--force", type=yes_flag("FORCE"), nargs="?", const=True, default=False)
    assert parser.parse_args([]).force is False
    assert parser.parse_args(["--force"]).force is True
    assert parser.parse_args(["--force", "yes"]).force is True
    with pytest.raises(CourseError, match="FORCE=no"):
        parser.parse_args(["--force", "no"])


def test_add_yes_flag_takes_the_option_alone_or_with_a_yes():
    import argparse

    from shared.flags import add_yes_flag

    parser = argparse.ArgumentParser()
    add_yes_flag(parser, "--overwrite", "OVERWRITE", help="replace")
    assert parser.parse_args([]).overwrite is False
    assert parser.parse_args(["--overwrite"]).overwrite is True
    assert parser.parse_args(["--overwrite=1"]).overwrite is True
    with pytest.raises(CourseError, match="^OVERWRITE=0: allowed values"):
        parser.parse_args(["--overwrite=0"])
