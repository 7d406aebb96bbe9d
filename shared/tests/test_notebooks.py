"""The notebook runner executes cells for real, in the notebook's own folder as Jupyter does,
reports a failing cell in one line, and with --write saves outputs that diff cleanly."""

from __future__ import annotations

import os

import nbformat
import pytest

from shared.errors import CourseError
from shared.notebooks import kernel_environment, main


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_runs_a_notebook_and_reports_its_time(tmp_path, capsys):
    out = tmp_path / "written.txt"
    path = _notebook(tmp_path / "ok.ipynb", f"open({str(out)!r}, 'w').write('ran')")
    before = path.read_bytes()
    assert main([str(path)]) == 0
    assert out.read_text() == "ran"
    assert "ran in" in capsys.readouterr().out
    assert path.read_bytes() == before  # without --write nothing is saved


def test_a_notebook_runs_in_its_own_folder(tmp_path, monkeypatch):
    """As in Jupyter: the working directory is the notebook's folder, not where the runner is."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "week9_example"
    path = _notebook(folder / "lesson.ipynb", "import os\nprint(os.getcwd())")
    assert main(["--write", str(path.relative_to(tmp_path))]) == 0
    (output,) = nbformat.read(path, as_version=4).cells[0].outputs
    assert output.text.strip() == str(folder.resolve())


def test_write_saves_outputs_without_timings(tmp_path, capsys):
    path = _notebook(
        tmp_path / "chunks.ipynb",
        "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.05)",
        "6 * 7",
        "import sys\n_ = sys.stderr.write('\\r' + ' ' * 20 + '\\r')  # a progress bar, wiped",
    )
    edited = nbformat.read(path, as_version=4)
    edited.cells[1].metadata["execution"] = {"iopub.execute_input": "2024-01-01T00:00:00Z"}
    nbformat.write(edited, path)
    assert main(["--write", str(path)]) == 0
    assert "outputs saved" in capsys.readouterr().out
    cells = nbformat.read(path, as_version=4).cells
    assert [c.execution_count for c in cells] == [1, 2, 3]
    assert [o.text for o in cells[0].outputs] == ["0\n1\n2\n"]  # one stream, not three chunks
    assert cells[1].outputs[0].data["text/plain"] == "42"
    assert cells[2].outputs == []
    assert all("execution" not in c.metadata for c in cells)
    first = path.read_bytes()
    assert main(["--write", str(path)]) == 0
    assert path.read_bytes() == first  # same notebook, same file


def test_a_failing_cell_is_one_clear_error(tmp_path):
    path = _notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('broken lesson')")
    before = path.read_bytes()
    with pytest.raises(CourseError, match="bad.ipynb: a cell failed: ValueError: broken lesson"):
        main(["--write", str(path)])
    assert path.read_bytes() == before  # a half-run notebook is not saved


def test_the_kernel_sees_data_folders_as_absolute_paths(tmp_path, monkeypatch):
    """CI's COURSE_DATA_MIRROR=../shared/data is relative to the repository root, not to the
    notebook's folder where the kernel starts."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSE_DATA_MIRROR", "../shared/data")
    monkeypatch.setenv("COURSE_DATA_DIR", "cache")
    env = kernel_environment()
    assert env["COURSE_DATA_MIRROR"] == str((tmp_path / ".." / "shared" / "data").resolve())
    assert env["COURSE_DATA_DIR"] == str(tmp_path.resolve() / "cache")
    monkeypatch.setenv("COURSE_DATA_MIRROR", "https://example.org/course")
    monkeypatch.delenv("COURSE_DATA_DIR")
    env = kernel_environment()
    assert env["COURSE_DATA_MIRROR"] == "https://example.org/course"
    assert "COURSE_DATA_DIR" not in env
    assert env["PATH"] == os.environ["PATH"]


def test_missing_notebook_and_empty_list(tmp_path, capsys):
    with pytest.raises(CourseError, match="notebook not found"):
        main([str(tmp_path / "none.ipynb")])
    assert main([]) == 0
    assert "no notebooks" in capsys.readouterr().out
