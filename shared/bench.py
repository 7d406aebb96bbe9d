"""Measuring speed honestly: interleave the variants, compare within a round, report the spread.

A single timing is noise: caches, frequency scaling, and above all the other processes on the
machine, whose load comes and goes within seconds. Timing variant A for a minute and then B for
a minute compares A on a quiet machine with B on a busy one. The course's benchmarks therefore

1. run every variant once untimed (warm-up: imports, caches, compilation),
2. time them in rounds, every variant once per round, the order rotated from round to round, so
   the variants of one round share the machine's state of that moment,
3. divide within each round: ratio = the reference's seconds / the variant's seconds, "how many
   times faster than the reference" (higher is better, always),
4. report the median ratio with the lowest and highest round's ratio. When those differ by more
   than `SPREAD_LIMIT` (a factor), or there were fewer than `MIN_ROUNDS` rounds, the figure is
   not reliable: rerun it on a quieter machine before quoting it.

A ratio compares two variants measured in the same run, never with a number remembered from
elsewhere. Every bench row has the keys of `ROW_KEYS`, built by `make_row` or `timed_rows`.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Reliable: the highest round's ratio is at most 1.25 times the lowest, over at least 3 rounds.
# Rounds that disagree by more than a quarter mean the machine's load changed within a round,
# and then the median may be off as well.
SPREAD_LIMIT = 1.25
MIN_ROUNDS = 3


def median_seconds(work: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of `work()` over `repeats` timed calls after `warmup` calls."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(
    variants: Mapping[str, Callable[[], Any]],
    rounds: int,
    warmup: int = 1,
    *,
    prepare: Mapping[str, Callable[[], Any]] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds of each variant in each round: `{name: [round 0, round 1, ...]}`.

    Every variant runs `warmup` times untimed, then once per round. Round r starts with variant
    r (mod the number of variants), so no variant always runs first, right after the pause of a
    garbage collection. `prepare[name]()`, if given, runs untimed before each of that variant's
    calls (e.g. a fresh tokenizer for a cold-cache measurement). Before each timed call the
    garbage collector runs, untimed; the objects alive before the first round are frozen out of
    it (`gc.freeze`), so that it stays a matter of milliseconds with PyTorch loaded.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    names = list(variants)
    before = prepare or {}
    for _ in range(warmup):
        for name in names:
            if name in before:
                before[name]()
            variants[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    gc.collect()
    gc.freeze()  # what is alive now (libraries, models) is left out of the collections below
    try:
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                if name in before:
                    before[name]()
                gc.collect()  # the previous call's garbage, not collected while timing this one
                start = clock()
                variants[name]()
                seconds[name].append(clock() - start)
    finally:
        gc.unfreeze()
    return seconds


@dataclass(frozen=True)
class RatioSummary:
    """Per-round ratios of one variant against the reference, summarised.

    median: the headline ratio; low, high: the lowest and highest round; reliable: the spread
    high / low is within SPREAD_LIMIT over at least MIN_ROUNDS rounds (None: one measurement,
    no spread to judge).
    """

    median: float
    low: float
    high: float
    rounds: int
    reliable: bool | None

    @property
    def spread(self) -> float:
        """high / low: 1.0 when every round agreed."""
        return self.high / self.low


def summarize_ratios(ratios: list[float]) -> RatioSummary:
    """Median, min, max and the reliable flag of per-round ratios (one ratio: reliable None)."""
    if not ratios or min(ratios) <= 0:
        raise ValueError(f"ratios must be positive and at least one, got {ratios}")
    low, high = min(ratios), max(ratios)
    reliable = (
        None if len(ratios) == 1 else (len(ratios) >= MIN_ROUNDS and high / low <= SPREAD_LIMIT)
    )
    return RatioSummary(statistics.median(ratios), low, high, len(ratios), reliable)


def speedups(seconds: Mapping[str, list[float]], reference: str) -> dict[str, RatioSummary]:
    """Each variant's "x faster than `reference`": reference seconds / its seconds, per round."""
    base = seconds[reference]
    return {
        name: summarize_ratios([b / s for b, s in zip(base, times, strict=True)])
        for name, times in seconds.items()
    }


# ---------------------------------------------------------------------------- bench rows

ROW_KEYS = (
    "section",  # what is measured: tokenizer, training, training memory, generation, ...
    "case",  # the setting shared by the rows compared with each other, e.g. "block 256"
    "impl",  # the variant measured, e.g. "sdpa rope bfloat16"
    "value",  # the number (None when it could not be measured; note says why)
    "unit",  # tokens/s, s, MB, ...
    "reference",  # the impl that ratio compares with (None: no ratio)
    "ratio",  # median over rounds of "x faster (or x smaller) than reference": higher is better
    "ratio_min",  # the lowest round's ratio
    "ratio_max",  # the highest round's ratio
    "rounds",  # interleaved rounds behind the ratio (1: a single measurement)
    "reliable",  # spread within SPREAD_LIMIT over >= MIN_ROUNDS rounds (None: nothing to judge)
    "note",  # how it was measured, or why it is missing
)


def make_row(
    section: str,
    case: str,
    impl: str,
    value: float | None,
    unit: str,
    *,
    reference: str | None = None,
    ratio: RatioSummary | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One row with every key of `ROW_KEYS`; `ratio` against `reference`, if there is one."""
    if (reference is None) != (ratio is None):
        raise ValueError("a row has both a reference and a ratio, or neither")
    return {
        "section": section,
        "case": case,
        "impl": impl,
        "value": value,
        "unit": unit,
        "reference": reference,
        "ratio": None if ratio is None else ratio.median,
        "ratio_min": None if ratio is None else ratio.low,
        "ratio_max": None if ratio is None else ratio.high,
        "rounds": None if ratio is None else ratio.rounds,
        "reliable": None if ratio is None else ratio.reliable,
        "note": note,
    }


def single_ratio(value: float) -> RatioSummary:
    """The summary of one measured ratio (e.g. of peak memory, measured once)."""
    return summarize_ratios([value])


def timed_rows(
    section: str,
    case: str,
    seconds: Mapping[str, list[float]],
    reference: str,
    *,
    amount: float | None = None,
    unit: str = "s",
    note: str = "",
) -> list[dict[str, Any]]:
    """Rows of one interleaved measurement, each with its speed-up against `reference`.

    value: `amount / median seconds` (tokens/s, MB/s, ... of `unit`), or the median seconds
    themselves when `amount` is None.
    """
    ratios = speedups(seconds, reference)
    rows = []
    for name, times in seconds.items():
        median = statistics.median(times)
        value = median if amount is None else amount / median
        rows.append(
            make_row(
                section, case, name, value, unit, reference=reference, ratio=ratios[name], note=note
            )
        )
    return rows


def format_ratio(row: Mapping[str, Any]) -> str:
    """A row's ratio as `1.23x (1.10-1.40)`, with `UNRELIABLE` when its spread is too wide."""
    if row["ratio"] is None:
        return ""
    text = f"{row['ratio']:.2f}x"
    if row["rounds"] is not None and row["rounds"] > 1:
        text += f" ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})"
    return text + (" UNRELIABLE" if row["reliable"] is False else "")


def machine_description() -> dict[str, Any]:
    """What the numbers were measured on: processor, cores, Python and library versions."""
    import numpy
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "load_average": _load_average(),
    }


def _load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages where the system reports them (a busy machine's
    numbers are worth less: say so beside them)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):  # pragma: no cover - Windows
        return None
