"""Named tables of implementations: the course's extension points.

A table is an entry-point group of the installed course. Every variant of every table is listed
in one place, `pyproject.toml` (`[project.entry-points."tiny_gpt.attention"]` and its siblings):

    [project.entry-points."tiny_gpt.attention"]
    naive = "<package>.attention:CausalSelfAttention"
    sdpa  = "<package>.sdpa:SDPAttention"

`ATTENTION.get("sdpa")` imports the module named there and returns the object. So the week that
defines a table never names the weeks that extend it, and the imports a reader sees in a module
are its real dependencies: a later week's variant is loaded only when a config asks for it.

Why entry points: they are Python's standard plug-in mechanism (`importlib.metadata`), the list is
data a reader finds from the README, and adding a variant edits no earlier week. The list is read
from the installed metadata, which `make setup` refreshes whenever pyproject.toml changes.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from shared.errors import CourseError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to implementations, read from the entry-point group `group` (a
    table without a group holds only what this process registers, e.g. a week's private one)."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, T] = {}  # loaded entries, and test stand-ins
        self._loaded: dict[str, T] = {}  # what each listed entry loaded as
        self._listed: dict[str, EntryPoint] | None = None

    def listed(self) -> dict[str, EntryPoint]:
        """The group's entry points by name (read once from the installed metadata)."""
        if self._listed is None:
            points = entry_points(group=self.group) if self.group else ()
            self._listed = {point.name: point for point in points}
        return self._listed

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding an entry in this process only (tests register stand-ins this way;
        the course's own variants are listed in pyproject.toml)."""

        def add(entry: T) -> T:
            if name in self._entries and self._entries[name] is not entry:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def names(self) -> list[str]:
        return sorted(set(self._entries) | set(self.listed()))

    def __contains__(self, name: object) -> bool:
        """Whether `name` is known, without importing what provides it."""
        return name in self._entries or name in self.listed()

    def source(self, name: str) -> str:
        """Where an entry comes from: `module:attribute`, or "this process" for a stand-in."""
        point = self.listed().get(name)
        stand_in = name in self._entries and self._entries[name] is not self._loaded.get(name)
        return "this process" if point is None or stand_in else point.value

    def get(self, name: str) -> T:
        """The entry called `name`, importing its module on first use; an unknown name or a
        module that cannot be imported is a `CourseError` that says which."""
        if name not in self._entries and name in self.listed():
            point = self.listed()[name]
            try:
                self._entries[name] = self._loaded[name] = point.load()
            except ImportError as error:
                raise CourseError(
                    f"{self.kind} {name!r} is provided by {point.value}, "
                    f"which cannot be loaded ({error})"
                ) from error
        if name not in self._entries:
            known = ", ".join(self.names()) or "none"
            if self.group is None:
                raise CourseError(f"unknown {self.kind} {name!r}; known: {known}")
            raise CourseError(
                f"unknown {self.kind} {name!r}; known: {known} (the table is "
                f'[project.entry-points."{self.group}"] in pyproject.toml; after editing it, '
                "run make setup)"
            )
        return self._entries[name]
