"""Named tables of implementations: the course's extension points.

Week 3 keeps its attention and position-embedding classes in registries (`naive`, `learned`);
week 6 adds `sdpa` and `rope` by registering them, without editing week 3. A registry also knows
which week is *expected* to provide a name, so a missing one gets a helpful error
("attention 'sdpa' comes with week6_optimizations, which is not loaded") instead of a KeyError.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from shared.errors import CourseError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to implementations, filled in by the weeks that provide them."""

    def __init__(self, kind: str, provided_by: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self.provided_by = dict(provided_by or {})
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@ATTENTION.register("sdpa")` above a class adds it under that name."""

        def add(entry: T) -> T:
            if name in self._entries and self._entries[name] is not entry:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> T:
        """Return the entry; if missing, load the week expected to provide it, then say why."""
        if name not in self._entries and name in self.provided_by:
            module = self.provided_by[name]
            try:
                importlib.import_module(module)
            except ImportError as error:
                raise CourseError(
                    f"{self.kind} {name!r} is provided by {module}, "
                    f"which cannot be loaded ({error})"
                ) from error
        if name not in self._entries:
            known = ", ".join(self.names()) or "none"
            hint = ""
            if name in self.provided_by:
                hint = f" ({self.provided_by[name]} was loaded but did not register it)"
            raise CourseError(f"unknown {self.kind} {name!r}; known: {known}{hint}")
        return self._entries[name]
