"""The bench's output: a table on the terminal and one JSON file per run.

    runs/bench/<YYYY-MM-DD_HHMMSS>.json   {"machine": ..., "device": ..., "quick": ..., "date": ...,
                                          "rows": [row, ...]}

The date and time are in the file name, so runs never overwrite each other and a quiet machine's
numbers can sit beside a busy one's.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.atomic import atomic_write_text
from week6_optimizations.bench.rows import ROW_KEYS


def format_value(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table with one line per row; the ratio column reads as 1.00x, 2.35x, ..."""
    header = ["section", "case", "impl", "value", "unit", "ratio", "note"]
    lines = [
        [
            str(row["section"]),
            str(row["case"]),
            str(row["impl"]),
            format_value(row["value"]),
            str(row["unit"]),
            "" if row["ratio"] is None else f"{row['ratio']:.2f}x",
            str(row["note"]),
        ]
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    right = {3, 5}  # numbers line up on the right

    def render(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(cells) for cells in lines)])


def bench_path(out_dir: str | Path, now: datetime) -> Path:
    """runs/bench/2025-01-31_142501.json; a second run in the same second gets a suffix."""
    out_dir = Path(out_dir)
    stem = now.strftime("%Y-%m-%d_%H%M%S")
    path, n = out_dir / f"{stem}.json", 1
    while path.exists():
        n += 1
        path = out_dir / f"{stem}-{n}.json"
    return path


def write_report(
    rows: list[dict[str, Any]],
    machine: dict[str, Any],
    out_dir: str | Path,
    *,
    device: str,
    quick: bool,
    now: datetime | None = None,
) -> Path:
    """Write the JSON file atomically and return its path."""
    now = now or datetime.now()
    report = {
        "machine": machine,
        "device": device,
        "quick": quick,
        "date": now.isoformat(timespec="seconds"),
        "keys": list(ROW_KEYS),
        "rows": rows,
    }
    path = bench_path(out_dir, now)
    atomic_write_text(path, json.dumps(report, indent=2, allow_nan=False) + "\n")
    return path
