"""Run configuration: one YAML file, loaded into typed dataclasses, with dotted overrides.

A config file has one mapping per *section*: `data`, `tokenizer`, `model`, `train`, `sample`,
`run`. Each section is a dataclass: its fields are the allowed keys, its type hints the allowed
types, its defaults the values used when a key is left out, and its `__post_init__` checks the
allowed ranges with `check(...)`. The week that owns a section defines its dataclass, and
pyproject.toml lists it in the `tiny_gpt.config_section` table (see `shared.registry`), so
`shared` never imports a week.

    cfg = load_config("configs/tiny.yaml", ["train.max_iters=200", "model.n_layer=2"])
    cfg.model.n_layer  # -> 2

Every mistake is one `ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from shared.errors import CourseError
from shared.registry import Registry


class ConfigError(CourseError):
    """A config file or override is wrong; the message names the key and what is allowed."""


class _Loader(yaml.SafeLoader):
    """YAML as people write it: plain YAML 1.1 reads `1e-3` as a string; here it is a number."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _mapping_without_duplicates(
    loader: _Loader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    """YAML lets a key appear twice and keeps the last value, so a second `lr:` further down a
    file silently wins over the first. A config is read by people: a repeated key is an error
    that names both lines."""
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if not isinstance(key, typing.Hashable):
            continue  # not a config key; the section schema refuses it with its own line
        if key in seen:
            raise ConfigError(f"key {key!r} appears twice, on lines {seen[key]} and {line}")
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


# Every section's dataclass, by section name: listed in pyproject.toml, imported on first use.
SECTIONS: Registry[type] = Registry("config section", "tiny_gpt.config_section")
# Sections every run has (defined in shared/sections.py): which corpus, and how the run is named.
BASE_SECTIONS = ("data", "run")


def check(condition: bool, key: str, allowed: str) -> None:
    """Raise a `ConfigError` for `key` unless `condition` holds; `allowed` says what would be valid.

    Use it in a section's `__post_init__`:
    `check(self.n_layer > 0, "n_layer", "a positive integer")`.
    The loader prefixes the section name, so the user reads `model.n_layer`.
    """
    if not condition:
        raise ConfigError(f"{key}: must be {allowed}")


# ----------------------------------------------------------------------------- type checking


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if origin in (list, tuple):
        (item, *_) = typing.get_args(hint) or (Any,)
        return f"a list of {_type_name(item)}"
    if hint is type(None):
        return "null"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def _coerce(value: Any, hint: Any) -> tuple[bool, Any]:
    """Return (ok, value) where value is converted to `hint` if that is lossless (int -> float)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True, value
    if origin is typing.Literal:
        return value in typing.get_args(hint), value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            ok, converted = _coerce(value, option)
            if ok:
                return True, converted
        return False, value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            return False, value
        (item_hint, *_) = typing.get_args(hint) or (Any,)
        items = [_coerce(item, item_hint) for item in value]
        if not all(ok for ok, _ in items):
            return False, value
        converted = [v for _, v in items]
        return True, tuple(converted) if origin is tuple else converted
    if hint is type(None):
        return value is None, value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if hint is str:
        return isinstance(value, str), value
    return isinstance(value, hint), value


def build_section(cls: type, values: Mapping[str, Any], section: str) -> Any:
    """Build dataclass `cls` from a mapping, checking keys and types; errors name `section.key`."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{section}: must be a mapping of keys to values, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise ConfigError(f"{section}.{key}: unknown key; allowed keys are {allowed}")
        ok, converted = _coerce(value, hints[key])
        if not ok:
            raise ConfigError(f"{section}.{key}: must be {_type_name(hints[key])}, got {value!r}")
        kwargs[key] = converted
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise ConfigError(f"{section}.{error}") from None


# ----------------------------------------------------------------------------- the whole config


class Config:
    """All sections of one run: `cfg.model`, `cfg.train`, ... are the section dataclasses."""

    def __init__(self, sections: Mapping[str, Any]) -> None:
        self._sections = dict(sections)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_sections"][name]
        except KeyError:
            raise AttributeError(f"config has no section {name!r}") from None

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dicts (lists for tuples), ready for YAML or a checkpoint."""
        plain = {}
        for name, section in self._sections.items():
            fields = dataclasses.asdict(section)
            plain[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
        return plain

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_defaults(self, *names: str) -> Config:
        """A copy that also has sections `names`, at their defaults where this config lacks them
        (a checkpoint's config has the sections of training; sampling adds `sample`)."""
        sections = dict(self._sections)
        for name in names:
            if name not in sections:
                sections[name] = build_section(SECTIONS.get(name), {}, name)
        return Config(sections)

    def replace(self, section: str, **changes: Any) -> Config:
        """A copy with some keys of one section changed (validated again)."""
        sections = dict(self._sections)
        sections[section] = dataclasses.replace(sections[section], **changes)
        return Config(sections)


def parse_override(text: str) -> tuple[str, str, Any]:
    """Split `section.key=value` into its parts; the value is read as YAML (`2`, `1e-3`, `true`)."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(
            f"override {text!r}: write it as section.key=value, e.g. train.max_iters=200"
        )
    try:
        value = _read_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return section, key, value


def config_from_dict(
    values: Mapping[str, Any] | None,
    overrides: Iterable[str] = (),
    source: str = "config",
    sections: Iterable[str] = (),
) -> Config:
    """Build a `Config` from nested mappings and dotted overrides.

    The config holds `data`, `run`, the sections given, and the `sections` a command reads (at
    their defaults when left out): a command names what it reads, so loading a config imports
    the weeks whose sections it holds and no others.
    """
    values = {} if values is None else values
    if not isinstance(values, Mapping):
        raise ConfigError(f"{source}: must be a mapping of sections (data, model, train, ...)")
    merged: dict[str, dict[str, Any]] = {}
    for section, body in values.items():
        merged[str(section)] = dict(body) if isinstance(body, Mapping) else body
    as_written: dict[tuple[str, str], str] = {}
    for text in overrides:
        section, key, value = parse_override(text)
        body = merged.setdefault(section, {})
        if isinstance(body, dict):
            body[key] = value
            as_written[section, key] = text.partition("=")[2].strip()
    for section in merged:
        if section not in SECTIONS:
            known = ", ".join(SECTIONS.names())
            raise ConfigError(f"{source}: unknown section {section!r}; sections are {known}")
    wanted = [*BASE_SECTIONS, *sections]
    names = sorted(set(wanted) | set(merged))
    built = {}
    for name in names:
        try:
            cls = SECTIONS.get(name)
        except CourseError as error:
            raise ConfigError(f"{source}: {error}") from None
        body = merged.get(name) or {}
        if isinstance(body, dict):
            body = _strings_as_written(cls, name, body, as_written)
        built[name] = build_section(cls, body, name)
    return Config(built)


def _strings_as_written(
    cls: type, section: str, body: dict[str, Any], as_written: Mapping[tuple[str, str], str]
) -> dict[str, Any]:
    """An override is read as YAML, where `off`, `yes` and `1e3` are not strings; for a key
    that wants a string, `run.name=off` means the name "off", as written."""
    hints = typing.get_type_hints(cls)
    fixed = dict(body)
    for key, value in body.items():
        text = as_written.get((section, key))
        if text is None or key not in hints:
            continue
        if not _coerce(value, hints[key])[0] and _coerce(text, hints[key])[0]:
            fixed[key] = text
    return fixed


def load_config(
    path: str | Path, overrides: Iterable[str] = (), sections: Iterable[str] = ()
) -> Config:
    """Read a YAML run config and apply `section.key=value` overrides (`sections`: as in
    `config_from_dict`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        values = _read_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        first_line = str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML ({first_line})") from None
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    if not values:  # an empty file, or one of comments only, would train every default
        raise ConfigError(
            f"{path}: the config is empty; give at least the sections you mean to set "
            "(data, tokenizer, model, train, sample, run), e.g. start from configs/tiny.yaml"
        )
    try:
        return config_from_dict(values, overrides, source=str(path), sections=sections)
    except ConfigError as error:
        message = str(error)
        raise ConfigError(
            message if message.startswith(str(path)) else f"{path}: {message}"
        ) from None
