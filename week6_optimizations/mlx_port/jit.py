"""MLX's kernel compiler on a CPU: check it once, and run without it when it is broken.

On a CPU, MLX turns every compiled function (`mx.compile`, and the activations inside `mlx.nn`,
which are compiled whatever the config says) into C++ source and builds it with the system's
`g++` the first time it runs, caching the library under the temporary folder. A machine with a
`g++` that cannot build (a half-installed compiler, a wrong `GCC_EXEC_PREFIX`) would then stop a
run at its first step with the compiler's message. `check_kernel_compiler` builds one tiny
kernel first; when that fails, it turns compilation off for the process (`mx.disable_compile`:
every function runs op by op, slower, with the same results to float tolerance) and says so in
one line. Apple's GPU compiles with Metal instead, and the check costs a cached library load.
"""

from __future__ import annotations

import functools
import sys


def compiler_message(error: BaseException) -> str:
    """The last line the compiler printed, out of MLX's long `[Compile::eval_cpu]` message."""
    text = str(error)
    _, _, output = text.partition("the output is:")
    lines = [line.strip() for line in (output or text).splitlines() if line.strip()]
    meaningful = [line for line in lines if line != "compilation terminated."]
    return (meaningful or lines or ["no message"])[-1]


@functools.cache
def check_kernel_compiler() -> bool:
    """True when MLX can build its CPU kernels (or needs none); otherwise turn compilation off
    for this process, say so once on stderr, and return False."""
    import mlx.core as mx

    if mx.default_device() != mx.cpu:
        return True

    def probe(x: mx.array) -> mx.array:  # a fused elementwise kernel, as `nn.gelu` makes one
        return mx.tanh(x) * 0.5 + 1.5

    try:
        mx.eval(mx.compile(probe)(mx.ones((8,))))
    except RuntimeError as error:
        if "Compile" not in str(error):
            raise
        mx.disable_compile()
        sys.stderr.write(
            "note: MLX could not build its C++ kernels with g++ "
            f"({compiler_message(error)}); running uncompiled, slower\n"
        )
        return False
    return True
