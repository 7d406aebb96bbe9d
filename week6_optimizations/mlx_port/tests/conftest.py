"""The MLX port's tests run where MLX is installed; elsewhere pytest's header says why they
are skipped (MLX has no wheel for an Intel Mac or an older Linux, or `make setup MLX=no`)."""

from __future__ import annotations

import pytest

from week6_optimizations.mlx_port.availability import mlx_available

if mlx_available():
    from week6_optimizations.mlx_port.tests.fixtures import corpus, seeded_mlx  # noqa: F401
else:
    collect_ignore_glob = ["test_*.py"]


def pytest_report_header(config: pytest.Config) -> str | None:
    if mlx_available():
        return None
    return "MLX is not installed: the MLX port's tests are skipped (README: Setup)"
