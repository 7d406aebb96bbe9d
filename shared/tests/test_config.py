"""The config loader: typed sections, dotted overrides, and one clear error per mistake."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.config import (
    SECTIONS,
    ConfigError,
    build_section,
    check,
    config_from_dict,
    load_config,
    parse_override,
)


@dataclass
class Example:
    count: int = 1
    rate: float = 0.5
    flag: bool = False
    name: str = "x"
    mode: Literal["a", "b"] = "a"
    maybe: int | None = None
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check(self.count > 0, "count", "a positive integer")


def test_build_section_converts_ints_to_floats_and_keeps_types():
    section = build_section(Example, {"count": 3, "rate": 1, "tags": ["p", "q"], "maybe": 4}, "ex")
    assert section == Example(count=3, rate=1.0, tags=["p", "q"], maybe=4)
    assert isinstance(section.rate, float)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"cuont": 1},
            "ex.cuont: unknown key; allowed keys are count, flag, maybe, mode, name, rate, tags",
        ),
        ({"count": "3"}, "ex.count: must be an integer, got '3'"),
        ({"count": True}, "ex.count: must be an integer, got True"),
        ({"rate": "fast"}, "ex.rate: must be a number, got 'fast'"),
        ({"flag": 1}, "ex.flag: must be true or false, got 1"),
        ({"mode": "c"}, "ex.mode: must be one of 'a', 'b', got 'c'"),
        ({"maybe": 1.5}, "ex.maybe: must be an integer or null, got 1.5"),
        ({"tags": [1]}, "ex.tags: must be a list of a string, got [1]"),
        ({"count": 0}, "ex.count: must be a positive integer"),
    ],
)
def test_each_mistake_is_one_error_naming_the_key(values, message):
    with pytest.raises(ConfigError) as error:
        build_section(Example, values, "ex")
    assert str(error.value) == message


def test_a_section_must_be_a_mapping():
    with pytest.raises(ConfigError, match="ex: must be a mapping"):
        build_section(Example, [1, 2], "ex")


def test_overrides_are_parsed_as_yaml_values():
    assert parse_override("train.lr=1e-3") == ("train", "lr", 1e-3)
    assert parse_override("model.bias=false") == ("model", "bias", False)
    assert parse_override("run.name=my-run") == ("run", "name", "my-run")
    assert parse_override("run.name=") == ("run", "name", "")
    assert parse_override("data.corpus=[unclosed") == ("data", "corpus", "[unclosed")


@pytest.mark.parametrize("bad", ["max_iters=3", "train.max_iters", ".x=1", "train.=1"])
def test_malformed_overrides_say_how_to_write_them(bad):
    with pytest.raises(ConfigError, match="write it as section.key=value"):
        parse_override(bad)


def test_load_config_applies_overrides_after_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("run:\n  name: first\n  seed: 1\n")
    cfg = load_config(path, ["run.seed=7", "data.corpus=other.txt"])
    assert (cfg.run.name, cfg.run.seed, cfg.data.corpus) == ("first", 7, "other.txt")
    assert "seed: 7" in cfg.to_yaml()


def test_missing_sections_get_defaults_and_round_trip_through_yaml(tmp_path):
    cfg = config_from_dict({})
    assert cfg.run.seed == 1337
    path = tmp_path / "again.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path).to_dict() == cfg.to_dict()


@given(seed=st.integers(0, 2**31), name=st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True))
def test_any_valid_override_is_read_back_exactly(seed, name):
    cfg = config_from_dict({}, [f"run.seed={seed}", f"run.name={name}"])
    assert (cfg.run.seed, cfg.run.name) == (seed, name)


@pytest.mark.parametrize("name", ["off", "yes", "no", "on", "1e3", "null", "12"])
def test_an_override_of_a_string_key_is_taken_as_written(name):
    assert config_from_dict({}, [f"run.name={name}"]).run.name == name
    with pytest.raises(ConfigError, match="run.seed: must be an integer"):
        config_from_dict({}, ["run.seed=off"])  # a key that wants a number still checks it


def test_replace_revalidates():
    cfg = config_from_dict({})
    assert cfg.replace("run", seed=5).run.seed == 5
    with pytest.raises(ConfigError):
        cfg.replace("run", seed=-1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run: [1, 2]\n", "run: must be a mapping"),
        ("[1, 2]\n", "must be a mapping of sections"),
        ("nonsense:\n  a: 1\n", "unknown section 'nonsense'"),
        ("run:\n  name: 'a b'\n", "run.name: must be a folder name"),
        ("run: {seed: 1\n", "not valid YAML"),
        ("run:\n  device: tpu\n", "run.device: must be one of auto, cpu"),
    ],
)
def test_file_errors_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no section 'nothing'"):
        _ = config_from_dict({}).nothing


def test_every_listed_section_is_a_dataclass():
    import dataclasses

    assert {"data", "run", "tokenizer", "model", "train", "sample"} <= set(SECTIONS.names())
    for name in SECTIONS.names():
        assert dataclasses.is_dataclass(SECTIONS.get(name)), name


def test_a_command_reads_only_the_sections_it_asks_for():
    cfg = config_from_dict({"model": {"n_layer": 2}}, sections=("train",))
    assert sorted(cfg.to_dict()) == ["data", "model", "run", "train"]
    assert sorted(config_from_dict({}).to_dict()) == ["data", "run"]
    with_sample = config_from_dict({}).with_defaults("sample")
    assert with_sample.sample == SECTIONS.get("sample")()  # the defaults


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# and another\n", "{}\n"])
def test_an_empty_config_is_refused_not_trained_with_every_default(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{path}: the config is empty"):
        load_config(path)


def test_a_repeated_key_names_both_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("run:\n  seed: 1\n  name: a\n  seed: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{path}: key 'seed' appears twice, on lines 2 and 4"):
        load_config(path)


def test_a_repeated_section_is_refused_too(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("run:\n  seed: 1\ntrain: {}\nrun:\n  seed: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="key 'run' appears twice, on lines 1 and 4"):
        load_config(path)


def test_the_same_key_in_two_sections_is_fine():
    from shared.config import _read_yaml

    assert _read_yaml("a:\n  seed: 1\nb:\n  seed: 2\n") == {"a": {"seed": 1}, "b": {"seed": 2}}
