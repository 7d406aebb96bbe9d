"""The notebook runner executes cells for real and reports a failing cell in one line."""

from __future__ import annotations

import nbformat
import pytest

from shared.errors import CourseError
from shared.notebooks import main


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_runs_a_notebook_and_reports_its_time(tmp_path, capsys):
    out = tmp_path / "written.txt"
    path = _notebook(tmp_path / "ok.ipynb", f"open({str(out)!r}, 'w').write('ran')")
    assert main([str(path)]) == 0
    assert out.read_text() == "ran"
    assert "ran in" in capsys.readouterr().out


def test_a_failing_cell_is_one_clear_error(tmp_path):
    path = _notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('broken lesson')")
    with pytest.raises(CourseError, match="bad.ipynb: a cell failed: ValueError: broken lesson"):
        main([str(path)])


def test_missing_notebook_and_empty_list(tmp_path, capsys):
    with pytest.raises(CourseError, match="notebook not found"):
        main([str(tmp_path / "none.ipynb")])
    assert main([]) == 0
    assert "no notebooks" in capsys.readouterr().out
