"""Yes/no knobs (`OVERWRITE=1`, `FORCE=yes`): only an explicit yes means yes.

make passes a knob's value as it was typed, and any non-empty string is true to a shell test, so
`OVERWRITE=0` once meant "overwrite". Here a knob is read strictly: `1`, `yes`, `true` (any case)
mean yes; leaving it out means no; anything else is an error that names the knob and the
allowed values, because a knob that guards a user's files must never guess.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from shared.errors import CourseError

YES = ("1", "yes", "true")


def parse_yes(value: str | None, knob: str) -> bool:
    """True for 1/yes/true, False for None or an empty value; any other value is refused."""
    if value is None or value.strip() == "":
        return False
    if value.strip().lower() in YES:
        return True
    hint = ""
    if "=" in value:  # `--overwrite train.max_iters=5` typed by hand: the flag took the override
        hint = f"; typed by hand, write --{knob.lower()}=1 or put the flag after the overrides"
    raise CourseError(
        f"{knob}={value}: allowed values are {', '.join(YES)} (or leave {knob} out to say no)"
        + hint
    )


def yes_flag(knob: str) -> Callable[[str], bool]:
    """An argparse `type=` for `--overwrite VALUE`: the value is read by `parse_yes`."""

    def parse(value: str) -> bool:
        return parse_yes(value, knob)

    parse.__name__ = knob  # argparse names the type in its own messages
    return parse


def add_yes_flag(parser: argparse.ArgumentParser, option: str, knob: str, help: str) -> None:
    """`option` alone means yes (`--force`), and so does `option VALUE` with a yes; any other
    VALUE is refused by `parse_yes`. This is how make passes a knob (`FORCE=1` -> `--force=1`)."""
    parser.add_argument(
        option,
        nargs="?",
        const=True,
        default=False,
        type=yes_flag(knob),
        metavar="1|yes|true",
        help=help,
    )
