"""A bench row, and the table of row providers that `make bench` runs in order.

Every measurement is one row with the same keys, whatever produced it:

    section   what is measured (tokenizer, training, training memory, generation, ...)
    case      the setting shared by the rows compared with each other (e.g. "block 256")
    impl      the variant measured (e.g. "sdpa rope bfloat16")
    value     the number (None when it could not be measured; `note` says why)
    unit      tokens/s, MB, ...
    ratio     value / the baseline row's value of the same section and case, same run (or None)
    note      how it was measured, or why it is missing

A provider is a function `rows(quick: bool) -> list[dict]`. Week 6 registers the tokenizer,
training and generation providers; a later addition (the MLX port) registers its own with
`@register_rows("mlx")` and `make bench` picks it up without changes here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ROW_KEYS = ("section", "case", "impl", "value", "unit", "ratio", "note")

RowProvider = Callable[[bool], list[dict[str, Any]]]
ROW_PROVIDERS: dict[str, RowProvider] = {}


def register_rows(name: str) -> Callable[[RowProvider], RowProvider]:
    """Decorator: add a provider; `make bench` runs the providers in registration order."""

    def add(provider: RowProvider) -> RowProvider:
        ROW_PROVIDERS[name] = provider
        return provider

    return add


def make_row(
    section: str,
    case: str,
    impl: str,
    value: float | None,
    unit: str,
    *,
    ratio: float | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One row with every key of `ROW_KEYS`."""
    return {
        "section": section,
        "case": case,
        "impl": impl,
        "value": value,
        "unit": unit,
        "ratio": ratio,
        "note": note,
    }


def check_row(row: dict[str, Any]) -> dict[str, Any]:
    """A provider's row with exactly the keys of `ROW_KEYS` (a missing key is a bug: ValueError)."""
    missing = [key for key in ROW_KEYS if key not in row]
    if missing:
        raise ValueError(f"bench row {row!r} lacks {', '.join(missing)}")
    return {key: row[key] for key in ROW_KEYS}
