"""A bench row, and the table of row providers that `make bench` runs in order.

Every measurement is one row with the keys of `shared.bench.ROW_KEYS`, whatever produced it:

    section    what is measured (tokenizer, training, training memory, generation, ...)
    case       the setting shared by the rows compared with each other (e.g. "block 256")
    impl       the variant measured (e.g. "sdpa rope bfloat16")
    value      the number (None when it could not be measured; `note` says why)
    unit       tokens/s, s, MB, ...
    reference  the impl of the same section and case that `ratio` compares with
    ratio      how many times faster (memory: smaller) than the reference: the median over
               interleaved rounds of the ratio within each round. Higher is better, always
    ratio_min, ratio_max   the lowest and highest round's ratio
    rounds     how many rounds (1: measured once)
    reliable   False when ratio_max / ratio_min exceeds shared.bench.SPREAD_LIMIT (or there were
               too few rounds): do not quote it; None when there is nothing to judge
    note       how it was measured, or why it is missing

A provider is a function `rows(quick: bool) -> list[dict]`. Week 6 registers the tokenizer,
training and generation providers; a later addition (the MLX port) registers its own with
`@register_rows("mlx")` and `make bench` picks it up without changes here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.bench import ROW_KEYS, make_row

__all__ = ["ROW_KEYS", "ROW_PROVIDERS", "check_row", "make_row", "register_rows"]

RowProvider = Callable[[bool], list[dict[str, Any]]]
ROW_PROVIDERS: dict[str, RowProvider] = {}


def register_rows(name: str) -> Callable[[RowProvider], RowProvider]:
    """Decorator: add a provider; `make bench` runs the providers in registration order."""

    def add(provider: RowProvider) -> RowProvider:
        ROW_PROVIDERS[name] = provider
        return provider

    return add


def check_row(row: dict[str, Any]) -> dict[str, Any]:
    """A provider's row with exactly the keys of `ROW_KEYS` (a missing key is a bug: ValueError)."""
    missing = [key for key in ROW_KEYS if key not in row]
    if missing:
        raise ValueError(f"bench row {row!r} lacks {', '.join(missing)}")
    return {key: row[key] for key in ROW_KEYS}
