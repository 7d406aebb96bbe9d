"""The interleaving tool and the ratio summary, on fake work timed by a fake clock."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.bench import (
    MIN_ROUNDS,
    ROW_KEYS,
    SPREAD_LIMIT,
    format_ratio,
    interleaved,
    machine_description,
    make_row,
    single_ratio,
    speedups,
    summarize_ratios,
    timed_rows,
)


class FakeClock:
    """A clock that moves only when fake work says so: timings are exact and repeatable."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[str] = []

    def __call__(self) -> float:
        return self.now

    def work(self, name: str, seconds: list[float]):
        """A variant that takes seconds[i] on its i-th call (warm-up calls included)."""
        durations = iter(seconds)

        def run() -> None:
            self.calls.append(name)
            self.now += next(durations)

        return run


def test_interleaved_warms_up_then_times_each_variant_once_per_round_in_rotated_order():
    clock = FakeClock()
    variants = {
        "a": clock.work("a", [9.0, 1.0, 1.5, 2.0]),
        "b": clock.work("b", [9.0, 2.0, 3.0, 4.0]),
        "c": clock.work("c", [9.0, 4.0, 4.0, 4.0]),
    }
    seconds = interleaved(variants, rounds=3, warmup=1, clock=clock)
    assert seconds == {"a": [1.0, 1.5, 2.0], "b": [2.0, 3.0, 4.0], "c": [4.0, 4.0, 4.0]}
    warmup, rounds = clock.calls[:3], clock.calls[3:]
    assert warmup == ["a", "b", "c"]
    assert rounds == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # no variant always first


def test_prepare_runs_untimed_before_each_call():
    clock = FakeClock()
    prepared = []

    def prepare() -> None:
        prepared.append(clock.now)
        clock.now += 100.0  # slow set-up work, which must not be counted

    variants = {"cold": clock.work("cold", [1.0, 1.0, 1.0]), "warm": clock.work("w", [2.0] * 3)}
    seconds = interleaved(variants, rounds=2, warmup=1, prepare={"cold": prepare}, clock=clock)
    assert seconds == {"cold": [1.0, 1.0], "warm": [2.0, 2.0]}
    assert len(prepared) == 3  # the warm-up call and both rounds


def test_interleaved_needs_a_round():
    with pytest.raises(ValueError, match="rounds must be at least 1, got 0"):
        interleaved({"a": lambda: None}, rounds=0)


def test_interleaved_times_real_work_with_the_real_clock():
    seconds = interleaved({"sleep": lambda: time.sleep(0.002), "none": lambda: None}, 2, 0)
    assert all(s >= 0 for times in seconds.values() for s in times)
    assert min(seconds["sleep"]) > 0


def test_speedups_divide_within_each_round_and_read_higher_is_better():
    seconds = {"ref": [2.0, 4.0, 2.0], "fast": [1.0, 2.0, 1.0], "slow": [4.0, 8.0, 5.0]}
    ratios = speedups(seconds, "ref")
    assert ratios["ref"].median == 1.0 and ratios["ref"].reliable is True
    assert ratios["fast"].median == 2.0 and ratios["fast"].spread == 1.0
    # the machine was twice as slow in round 2 for every variant: the ratio does not move
    assert (ratios["slow"].low, ratios["slow"].median, ratios["slow"].high) == (0.4, 0.5, 0.5)
    assert ratios["slow"].reliable is True  # 0.5 / 0.4 = 1.25, exactly the limit


def test_a_wide_spread_or_too_few_rounds_is_unreliable():
    wide = summarize_ratios([1.0, 1.0, SPREAD_LIMIT * 1.01])
    assert wide.reliable is False and wide.median == 1.0
    assert summarize_ratios([1.0] * (MIN_ROUNDS - 1)).reliable is False
    assert summarize_ratios([1.0] * MIN_ROUNDS).reliable is True
    one = single_ratio(0.7)
    assert (one.median, one.low, one.high, one.rounds, one.reliable) == (0.7, 0.7, 0.7, 1, None)
    with pytest.raises(ValueError, match="positive"):
        summarize_ratios([])
    with pytest.raises(ValueError, match="positive"):
        summarize_ratios([1.0, 0.0])


positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False)


@given(st.lists(st.tuples(positive, positive), min_size=1, max_size=12))
def test_summary_properties(pairs):
    seconds = {"ref": [a for a, _ in pairs], "other": [b for _, b in pairs]}
    ratios = speedups(seconds, "ref")
    itself, other = ratios["ref"], ratios["other"]
    assert itself.median == itself.low == itself.high == 1.0 and itself.rounds == len(pairs)
    assert other.low <= other.median <= other.high and other.spread >= 1.0
    expected = (
        None if len(pairs) == 1 else len(pairs) >= MIN_ROUNDS and other.spread <= SPREAD_LIMIT
    )
    assert other.reliable == expected
    # swapping the roles inverts every round's ratio: the same spread, and with an odd number
    # of rounds (a median that is one of the ratios) the inverse median
    back = speedups(seconds, "other")["ref"]
    assert back.spread == pytest.approx(other.spread)
    if len(pairs) % 2 == 1:
        assert back.median == pytest.approx(1 / other.median)


def test_timed_rows_give_values_in_units_and_ratios_against_the_reference():
    seconds = {"ref": [2.0, 2.0, 3.0], "new": [1.0, 1.0, 1.0]}
    rows = timed_rows("s", "c", seconds, "ref", amount=600.0, unit="tokens/s", note="n")
    assert [tuple(row) for row in rows] == [ROW_KEYS, ROW_KEYS]
    ref, new = rows
    assert ref["value"] == 300.0 and new["value"] == 600.0 and new["reference"] == "ref"
    assert (new["ratio"], new["ratio_min"], new["ratio_max"], new["rounds"]) == (2.0, 2.0, 3.0, 3)
    assert new["reliable"] is False and ref["reliable"] is True
    plain = timed_rows("s", "c", seconds, "ref")
    assert plain[0]["value"] == 2.0 and plain[0]["unit"] == "s"  # median seconds


def test_rows_and_their_ratio_text():
    row = make_row("s", "c", "i", 1.0, "MB", note="why")
    assert tuple(row) == ROW_KEYS and row["ratio"] is None and format_ratio(row) == ""
    with pytest.raises(ValueError, match="both a reference and a ratio"):
        make_row("s", "c", "i", 1.0, "MB", reference="x")
    measured = make_row("s", "c", "i", 1.0, "MB", reference="x", ratio=summarize_ratios([1, 1.5]))
    assert format_ratio(measured) == "1.25x (1.00-1.50) UNRELIABLE"
    once = make_row("s", "c", "i", 1.0, "MB", reference="x", ratio=single_ratio(2.0))
    assert format_ratio(once) == "2.00x"


def test_machine_description_says_how_busy_the_machine_was():
    machine = machine_description()
    assert machine["cores"] >= 1 and len(machine["load_average"]) == 3
