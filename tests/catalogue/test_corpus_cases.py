"""Catalogue: your own corpus (`make prepare`, week 6) and a run on it (`data.corpus=<name>`).

Each case is a mistake met by `make prepare DATA=<folder, file or glob> NAME=<corpus>` or by a
run on what it wrote: a folder with nothing to read, files that are not text, a glob that
matches nothing, a JSONL line without its "text", a name that is taken or is not a name, a
shard changed after preparation, a config whose tokenizer is not the corpus's, a preparation
that fails halfway. The course answers with one line naming the file (file:line), knob or
corpus and what is wrong, exit 2, no traceback, and nothing of the learner's lost: an existing
corpus stays byte for byte as it was and no hidden `.<name>.preparing-*` folder is left behind.

Every case has its own data cache (`COURSE_DATA_DIR`) and its own documents: sixty small
play-shaped files (about 1.4 KB each), encoded with the byte tokenizer of configs/baby.yaml, so
preparing one takes a fraction of a second and no BPE is trained.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.catalogue.harness import Result, Snapshot, assert_refused, course, make

BYTES_CONFIG = "configs/baby.yaml"  # tokenizer.kind: bytes, nothing to train before encoding
BPE_CONFIG = "configs/tiny.yaml"  # tokenizer.kind: bpe, vocab_size 1024
# One encoding process, and a validation split that sixty documents surely reach.
QUICK = ["prepare.workers=1", "prepare.val_fraction=0.2"]
SPEAKERS = ["KING", "QUEEN", "LORD", "NURSE"]
WORDS = ["the", "king", "queen", "lord", "speak", "love", "night", "day", "sword", "crown"]
ALLOWED = ".txt, .md or .jsonl"


def _document(i: int) -> str:
    """About 1.4 KB of play-shaped text; no two documents are the same."""
    lines = [f"SCENE {i}."]
    for j in range(40):
        words = (WORDS[(i * 5 + j * 7 + k * 3) % len(WORDS)] for k in range(4 + j % 5))
        lines += [f"{SPEAKERS[(i + j) % 4]}:", " ".join(words) + "."]
    return "\n".join(lines) + "\n"


def _documents(folder: Path, n: int = 60, start: int = 0) -> Path:
    """`n` documents as .txt files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (folder / f"scene_{i:03d}.txt").write_text(_document(i), encoding="utf-8")
    return folder


@pytest.fixture
def lab(tmp_path: Path) -> SimpleNamespace:
    """A data cache of its own, sixty documents, and a folder for runs."""
    cache = tmp_path / "cache"
    return SimpleNamespace(
        root=tmp_path,
        env={"COURSE_DATA_DIR": str(cache)},
        corpora=cache / "corpora",
        docs=_documents(tmp_path / "docs"),
        runs=tmp_path / "runs",
    )


def _prepare(
    lab: SimpleNamespace, data: str | Path, name: str, *overrides: str, overwrite: bool = False
) -> Result:
    """`make prepare DATA=data NAME=name CFG=configs/baby.yaml [OVERWRITE=1] ARGS=overrides`,
    run in this process."""
    return course(
        "week6_optimizations.corpus",
        "prepare",
        "--data",
        str(data),
        "--name",
        name,
        "--config",
        BYTES_CONFIG,
        "--no-progress",
        *(["--overwrite=1"] if overwrite else []),
        *QUICK,
        *overrides,  # after QUICK: an override here wins
        env=lab.env,
    )


def _prepared(lab: SimpleNamespace, name: str = "play") -> Path:
    """The sixty documents prepared as the corpus `name`; its folder."""
    result = _prepare(lab, lab.docs, name)
    assert result.returncode == 0, result
    folder = lab.corpora / name
    assert (folder / "manifest.json").is_file(), result
    return folder


def _train(lab: SimpleNamespace, config: str, corpus: str) -> Result:
    """`make train CFG=config ARGS="data.corpus=corpus"`: one step, on the CPU."""
    return course(
        "week4_training",
        "train",
        "--config",
        config,
        f"data.corpus={corpus}",
        "train.max_iters=1",
        f"run.out_dir={lab.runs}",
        "run.device=cpu",
        env=lab.env,
    )


def _left_behind(lab: SimpleNamespace, name: str) -> list[str]:
    """What the cache holds under the corpus name: its folder, or a hidden half-written one."""
    if not lab.corpora.is_dir():
        return []
    return sorted(
        p.name for p in lab.corpora.iterdir() if p.name == name or p.name.startswith(f".{name}.")
    )


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _jsonl(path: Path, records: list[object]) -> Path:
    """One JSON value a line, written as `json.dumps(..., ensure_ascii=False)` writes it."""
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _no_trained_run(lab: SimpleNamespace) -> None:
    """A refused run trained nothing: no checkpoint, no samples."""
    written = [p for p in lab.runs.rglob("*") if p.suffix in (".pt", ".txt", ".png")]
    assert written == [], written


# ----------------------------------------------------------------------------- 1-4: DATA=


def test_case01_an_empty_folder_is_named(lab: SimpleNamespace) -> None:
    """DATA=<an empty folder>: nothing to read must be one line naming the folder and what it
    should hold, never an empty corpus that a run then fails on."""
    empty = lab.root / "empty"
    empty.mkdir()
    result = _prepare(lab, empty, "play")
    assert_refused(result, f"DATA={empty}", f"the folder holds no {ALLOWED}", code=2)
    assert _left_behind(lab, "play") == []


def test_case02_a_folder_of_files_that_are_not_utf8_is_named(lab: SimpleNamespace) -> None:
    """DATA=<a folder of binary files> (an export in Latin-1, a scan saved as .txt, a PDF): each
    is skipped, never half-read, and with nothing left the line says so, naming one of them."""
    binary = lab.root / "exports"
    binary.mkdir()
    latin1 = "caf\u00e9 na\u00efve r\u00e9sum\u00e9\n".encode("latin-1")
    (binary / "notes.md").write_bytes(latin1 * 20)
    (binary / "scan.txt").write_bytes(bytes(range(256)) * 8)
    (binary / "book.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(128, 256)) * 4)
    snapshot = Snapshot(binary)
    result = _prepare(lab, binary, "play")
    assert_refused(result, f"DATA={binary}", "all 2 files are not UTF-8", "notes.md", code=2)
    snapshot.assert_unchanged()
    assert _left_behind(lab, "play") == []


@pytest.mark.parametrize("pattern", ["docs/*.jsonl", "nowhere/**/*.txt"])
def test_case03_a_glob_that_matches_nothing_is_named(lab: SimpleNamespace, pattern: str) -> None:
    """DATA=<a glob that matches no file> (a typo in the suffix or the folder): the line names
    the pattern as typed."""
    glob = f"{lab.root}/{pattern}"
    result = _prepare(lab, glob, "play")
    assert_refused(result, f"DATA={glob}", "the pattern matches no file", code=2)
    assert _left_behind(lab, "play") == []


def test_case04_a_jsonl_line_without_text_is_named_by_file_and_line(
    lab: SimpleNamespace,
) -> None:
    """A JSONL line without a "text" field: the line names file:line (a blank line still
    counts) and the field each line needs; no corpus is written of the lines before it."""
    path = lab.root / "chats.jsonl"
    good = json.dumps({"text": _document(1)})
    path.write_text(f"{good}\n\n" + json.dumps({"title": "Act two"}) + "\n", encoding="utf-8")
    snapshot = Snapshot(path)
    result = _prepare(lab, path, "play")
    assert_refused(result, f'{path}:3: no "text" field', '{"text": "..."}', code=2)
    snapshot.assert_unchanged()
    assert _left_behind(lab, "play") == []


def test_case04_a_line_separator_inside_a_text_is_not_a_line_break(lab: SimpleNamespace) -> None:
    """JSONL lines end at "\\n" only. A text may hold U+2028, U+2029 or U+0085 as they are (JSON
    allows them unescaped, and `json.dumps(ensure_ascii=False)` writes them so): such a file is
    read line for line, and a bad line after them is named by its own line number."""
    texts = [f"{_document(i)}\u2028LINE SEPARATOR\u2029PARAGRAPH\u0085NEL\n" for i in range(60)]
    path = _jsonl(lab.root / "export.jsonl", [{"text": text} for text in texts])
    result = _prepare(lab, path, "play")
    assert result.returncode == 0, result
    assert _manifest(lab.corpora / "play")["files"]["documents"] == 60, result
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"txt": "a typo"}) + "\n")
    result = _prepare(lab, path, "again")
    assert_refused(result, f'{path}:61: no "text" field', code=2)


# ----------------------------------------------------------------------------- 5: NAME= taken


def test_case05_an_existing_corpus_is_not_replaced_without_overwrite(
    lab: SimpleNamespace,
) -> None:
    """`make prepare NAME=<a corpus that exists>` must not replace it: a learner's corpus can
    take hours to prepare. Refused, naming the corpus and OVERWRITE=1, with every file of it as
    it was; with OVERWRITE=1 the new one replaces it whole."""
    folder = _prepared(lab)
    before = _manifest(folder)
    more = _documents(lab.root / "more docs", n=80, start=100)  # a space: DATA stays one word
    snapshot = Snapshot(folder)
    result = make(
        "prepare",
        f"DATA={more}",
        "NAME=play",
        f"CFG={BYTES_CONFIG}",
        f"ARGS={' '.join(QUICK)}",
        env=lab.env,
    )
    assert_refused(result, "corpus play already exists", str(folder), "OVERWRITE=1", code=2)
    snapshot.assert_unchanged()
    assert _left_behind(lab, "play") == ["play"]

    replaced = _prepare(lab, more, "play", overwrite=True)
    assert replaced.returncode == 0, replaced
    after = _manifest(folder)
    assert (before["data"], after["data"]) == (str(lab.docs), str(more))
    assert (before["files"]["documents"], after["files"]["documents"]) == (60, 80)
    assert _left_behind(lab, "play") == ["play"]


# ----------------------------------------------------------------------------- 6: a changed shard


def test_case06_a_shard_changed_after_preparation_is_never_trained_on(
    lab: SimpleNamespace,
) -> None:
    """One byte of `train_00000.bin` flipped after preparation (a bad disk, a stray write): the
    run refuses before training, naming the shard and that its hash no longer matches the
    manifest, and leaves the corpus as it found it."""
    folder = _prepared(lab)
    shard = folder / "train_00000.bin"
    data = bytearray(shard.read_bytes())
    data[101] ^= 0x01
    shard.write_bytes(bytes(data))
    snapshot = Snapshot(folder)
    result = _train(lab, BYTES_CONFIG, "play")
    assert_refused(result, str(shard), "no longer matches the manifest", code=2)
    snapshot.assert_unchanged()
    _no_trained_run(lab)


# ----------------------------------------------------------------------------- 7: and also


def test_case07_an_empty_data_knob_says_what_to_give(lab: SimpleNamespace) -> None:
    """`make prepare NAME=play` without DATA (make passes it empty): the line names DATA= and
    what it takes, rather than reading the current folder or the whole disk."""
    result = _prepare(lab, "", "play")
    assert_refused(result, "DATA= is empty", "a folder, a file or a glob", code=2)
    assert _left_behind(lab, "play") == []


@pytest.mark.parametrize("name", ["mine/play", "../play"])
def test_case07_a_name_that_is_a_path_is_refused(lab: SimpleNamespace, name: str) -> None:
    """NAME=<a path>: a corpus name is a plain name, so it can never write outside the corpora
    folder; the line names the value and the rule."""
    result = _prepare(lab, lab.docs, name)
    assert_refused(result, f"NAME={name!r}", "1-64 letters, digits", code=2)
    cache = lab.corpora.parent
    assert not (lab.corpora / "mine").exists() and not (cache / "play").exists()


def test_case07_a_config_with_another_tokenizer_names_both(lab: SimpleNamespace) -> None:
    """Training configs/tiny.yaml (BPE, 1024) on a corpus prepared with bytes: the shards'
    ids mean nothing to another tokenizer, so the run refuses in one line naming the corpus,
    the tokenizer it was prepared with and the one the config asks for."""
    folder = _prepared(lab)
    snapshot = Snapshot(folder)
    result = _train(lab, BPE_CONFIG, "play")
    assert_refused(
        result,
        "corpus play",
        "tokenizer.kind=bytes, vocab_size 257",
        "tokenizer.kind=bpe, vocab_size 1024",
        code=2,
    )
    snapshot.assert_unchanged()
    _no_trained_run(lab)


def test_case07_a_preparation_that_fails_partway_loses_nothing(lab: SimpleNamespace) -> None:
    """OVERWRITE=1 on files whose last one has a bad line: the error comes after sixty
    documents were read, with two encoding processes started and the new corpus's folder begun,
    and the existing corpus must still be there, byte for byte, with no hidden half-written
    folder beside it. A new name fails the same way and leaves nothing at all."""
    folder = _prepared(lab)
    snapshot = Snapshot(folder)
    mixed = _documents(lab.root / "mixed")
    bad = _jsonl(mixed / "zz_chats.jsonl", [{"text": _document(500)}, {"text": 5}])
    for name in ("play", "fresh"):
        result = _prepare(lab, mixed, name, "prepare.workers=2", overwrite=name == "play")
        assert_refused(result, f'{bad}:2: "text" is int, not a string', code=2)
        assert _left_behind(lab, name) == (["play"] if name == "play" else []), name
    snapshot.assert_unchanged()


# ------------------------------------------------------------------ the learner's path


def test_make_prepare_then_make_train_on_generated_files(tmp_path):
    """Generated files, `make prepare`, `make train` on the corpus: the whole path, as typed."""
    env = {"COURSE_DATA_DIR": str(tmp_path / "cache")}
    files = tmp_path / "files"
    made = course("week6_optimizations.corpus", "generate", "--out", str(files), "--mb", "0.4")
    assert made.returncode == 0 and len(list(files.rglob("doc*"))) == 8, made
    knobs = [f"DATA={files}", "NAME=gen", "CFG=configs/baby.yaml", "ARGS=prepare.val_fraction=0.3"]
    prepared = make("prepare", *knobs, env=env)
    assert prepared.returncode == 0, prepared
    assert "data.corpus=gen" in prepared.stdout and "  val " in prepared.stdout
    args = "data.corpus=gen train.max_iters=4 train.eval_interval=4 run.name=gen"
    trained = make(
        "train", "CFG=configs/baby.yaml", f"ARGS={args} run.out_dir={tmp_path}/runs", env=env
    )
    assert trained.returncode == 0, trained
    rows = [json.loads(line) for line in (tmp_path / "runs" / "gen" / "metrics.jsonl").open()]
    assert rows[-1]["step"] == 4 and rows[-1]["val_bits_per_byte"] > 0
