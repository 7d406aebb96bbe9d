"""The bench's output: a table on the terminal and one JSON file per run.

    runs/bench/<YYYY-MM-DD_HHMMSS>.json
    {
      "machine": {"cpu", "cores", "torch_threads", "platform", "python", "torch", "numpy",
                  "load_average"},
      "device": "cpu", "quick": false, "date": "2026-12-02T06:04:52",
      "method": {"spread_limit": 1.25, "min_rounds": 3},
      "keys": [the row keys, in order],
      "rows": [{"section", "case", "impl", "value", "unit", "reference", "ratio",
                "ratio_min", "ratio_max", "rounds", "reliable", "note"}, ...]
    }

A row's keys are explained in rows.py; `ratio` is always "times faster (memory: smaller) than
`reference`", higher is better.

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
from shared.bench import MIN_ROUNDS, ROW_KEYS, SPREAD_LIMIT, format_ratio


def format_value(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table with one line per row, and a legend.

    The ratio column reads `1.23x (1.10-1.40)`: the median over rounds of "times faster (for
    memory: smaller) than the row named in `vs`", then the lowest and highest round. Higher is
    better in every row. A row whose spread is wider than SPREAD_LIMIT says UNRELIABLE.
    """
    header = ["section", "case", "impl", "value", "unit", "ratio (min-max)", "vs", "note"]
    lines = [
        [
            str(row["section"]),
            str(row["case"]),
            str(row["impl"]),
            format_value(row["value"]),
            str(row["unit"]),
            format_ratio(row),
            "" if row["reference"] is None or row["reference"] == row["impl"] else row["reference"],
            str(row["note"]),
        ]
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    right = {3}  # numbers line up on the right

    def render(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    unreliable = sum(1 for row in rows if row["reliable"] is False)
    legend = (
        "ratio: times faster (memory: smaller) than `vs` (blank: the row is the reference), "
        "the median of per-round ratios; higher is better. UNRELIABLE: the rounds' ratios "
        f"differ by more than {SPREAD_LIMIT}x (or fewer than {MIN_ROUNDS} rounds): "
        f"{unreliable} of {len(rows)} rows; rerun on a quieter machine before quoting them."
    )
    return "\n".join([render(header), rule, *(render(cells) for cells in lines), "", legend])


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
        "method": {"spread_limit": SPREAD_LIMIT, "min_rounds": MIN_ROUNDS},
        "keys": list(ROW_KEYS),
        "rows": rows,
    }
    path = bench_path(out_dir, now)
    atomic_write_text(path, json.dumps(report, indent=2, allow_nan=False) + "\n")
    return path
