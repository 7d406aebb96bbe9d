"""jit.py: a C++ compiler that cannot build MLX's CPU kernels turns compilation off, once, with a
note; any other error is not swallowed. (The real broken compiler, end to end: the catalogue's
tests/catalogue/test_generation_cases.py, case 12.)"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

from week6_optimizations.mlx_port import jit

# What MLX 0.32 raises when g++ cannot run its compiler proper (seen on a CI machine).
FAILED = (
    "[Compile::eval_cpu] Failed to compile function Cf4ITanh_V_f4_contiguous: Failed to execute "
    'command with return code 1: "g++ -std=c++17 -O3 ...", the output is: g++: fatal error: '
    "cannot execute 'cc1plus': execvp: No such file or directory\ncompilation terminated.\n"
)


@pytest.fixture
def fresh_check():
    """`check_kernel_compiler` as if this process had not run it, and compilation on after."""
    jit.check_kernel_compiler.cache_clear()
    yield jit.check_kernel_compiler
    jit.check_kernel_compiler.cache_clear()
    mx.enable_compile()


def test_the_message_is_the_compilers_last_line():
    expected = "g++: fatal error: cannot execute 'cc1plus': execvp: No such file or directory"
    assert jit.compiler_message(RuntimeError(FAILED)) == expected
    assert jit.compiler_message(RuntimeError("only one line")) == "only one line"
    assert jit.compiler_message(RuntimeError("")) == "no message"


def test_a_working_compiler_keeps_compilation_on(fresh_check, capsys):
    assert fresh_check() is True
    assert capsys.readouterr().err == ""


def test_a_broken_compiler_turns_compilation_off_once(fresh_check, monkeypatch, capsys):
    def broken(function):
        def run(*args):
            raise RuntimeError(FAILED)

        return run

    turned_off = []
    monkeypatch.setattr(mx, "compile", broken)
    monkeypatch.setattr(mx, "disable_compile", lambda: turned_off.append(True))
    assert fresh_check() is False
    assert fresh_check() is False  # the answer is kept: one note per process
    note = capsys.readouterr().err
    assert note.count("\n") == 1 and "cc1plus" in note and "uncompiled" in note
    assert turned_off == [True]


def test_other_errors_are_not_taken_for_a_compiler(fresh_check, monkeypatch):
    def broken(function):
        def run(*args):
            raise RuntimeError("[eval] out of memory")

        return run

    monkeypatch.setattr(mx, "compile", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        fresh_check()


def test_uncompiled_functions_give_the_compiled_results(fresh_check):
    x = mx.random.normal((64,), key=mx.random.key(0))
    compiled = np.array(nn.gelu(x))
    mx.disable_compile()
    uncompiled = np.array(nn.gelu(x))
    np.testing.assert_allclose(uncompiled, compiled, rtol=1e-6, atol=1e-6)
