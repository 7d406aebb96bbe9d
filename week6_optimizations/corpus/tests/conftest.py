"""The corpus tests' cache folder: prepared corpora go to a tmp COURSE_DATA_DIR."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """COURSE_DATA_DIR for this test: prepared corpora go under <it>/corpora/."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    return folder
