"""Fixtures for the shared package's tests: an isolated data cache and a fake mirror."""

from __future__ import annotations

import pytest


@pytest.fixture
def data_cache(tmp_path, monkeypatch):
    """An empty, private download cache, so tests never touch the repository's data/."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("COURSE_DATA_DIR", str(cache))
    return cache


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """An empty mirror folder that COURSE_DATA_MIRROR points at; tests put files in it."""
    folder = tmp_path / "mirror"
    (folder / "gpt2").mkdir(parents=True)
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(folder))
    return folder
