"""Catalogue: mistakes in a config file, and the error mechanism every command shares.

Each case is a bad input a learner made; the course answers with one line that names the file,
key or value and what is allowed, a non-zero exit, and nothing of the learner's changed.
"""

from __future__ import annotations

import sys

from tests.catalogue.harness import (
    Snapshot,
    assert_interrupted,
    assert_refused,
    interrupted,
    make,
)


def _config(tmp_path, text: str):
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_empty_config_is_refused(tmp_path):
    """An empty config trained an 86M-parameter model for 2000 steps."""
    path = _config(tmp_path, "")
    result = make("train", f"CFG={path}", f"ARGS=run.out_dir={tmp_path / 'runs'}")
    assert_refused(result, str(path), "the config is empty")
    assert not (tmp_path / "runs").exists()


def test_comments_only_config_is_refused(tmp_path):
    """A config of comments only is empty too: every default would train."""
    path = _config(tmp_path, "# my run\n# (to be written)\n")
    snapshot = Snapshot(tmp_path)
    result = make("train", f"CFG={path}", f"ARGS=run.out_dir={tmp_path / 'runs'}")
    assert_refused(result, str(path), "the config is empty")
    snapshot.assert_unchanged()


def test_duplicate_yaml_key_names_both_lines(tmp_path):
    """A repeated key: the last silently won."""
    path = _config(tmp_path, "train:\n  lr: 1.0e-3\n  max_iters: 10\n  lr: 3.0e-3\n")
    result = make("params", f"CFG={path}")
    assert_refused(result, str(path), "'lr'", "lines 2 and 4")


def test_huge_run_seed_is_one_line(tmp_path):
    """SEED=99999999999999999999999 overflowed inside PyTorch."""
    result = make("params", "CFG=configs/baby.yaml", "ARGS=run.seed=99999999999999999999999")
    assert_refused(result, "run.seed", "an integer from 0 to")


def test_negative_run_seed_is_one_line():
    """A negative seed is no seed."""
    result = make("params", "CFG=configs/baby.yaml", "ARGS=run.seed=-1")
    assert_refused(result, "run.seed", "an integer from 0 to")


def test_ctrl_c_while_a_command_starts_is_one_line(tmp_path, config_file):
    """Ctrl-C during the imports (PyTorch takes seconds) ended in a traceback."""
    args = [sys.executable, "-m", "week4_training", "train", "--config", config_file]
    result = interrupted(args, after=0.6)
    assert_interrupted(result)


def test_make_size_without_a_depth_is_one_line_and_passes_its_knobs(tmp_path):
    """`make size` with no DEPTH; then DEPTH, BASE and OUT reach the command (week 6's dial)."""
    missing = make("size")
    assert (
        missing.returncode == 2 and "error: say which depth: make size DEPTH=12" in missing.stderr
    )
    out = tmp_path / "d2.yaml"
    done = make("size", "DEPTH=2", "BASE=configs/gpt2-small.yaml", f"OUT={out}")
    assert done.returncode == 0, done
    assert "depth 2, n_embd 128, n_head 2" in done.stdout and out.is_file()
