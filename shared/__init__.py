"""The course's common package: configuration, devices, data files, run folders and metrics.

`shared` imports no week. Every week imports it first, before PyTorch loads (see below).
"""

import os
import signal
import sys
from types import FrameType


def _interrupted_while_loading(  # pragma: no cover - a real Ctrl-C, in a subprocess
    signum: int, frame: FrameType | None
) -> None:
    """Ctrl-C while a command is still importing: nothing is written yet, so stop at once."""
    sys.stderr.write("\ninterrupted\n")
    sys.stderr.flush()
    os._exit(130)


# `python -m <a week>` imports the package (and PyTorch, for seconds) before any of the
# course's own code runs, so a Ctrl-C there would end in a traceback from deep inside PyTorch.
# While Python is still locating the module it sets sys.argv[0] to "-m": only then, in a program
# the course started, does Ctrl-C end the load at once; `shared.errors.run_module` puts Python's
# own handler back before the command runs. A notebook or pytest never sees this handler.
if sys.argv[:1] == ["-m"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_loading)

# On a busy machine (other programs on the same cores) OpenMP's default of spinning while it
# waits for its threads made each training step up to 20x slower in week 4's measurements;
# sleeping instead costs almost nothing. Every week imports `shared` before PyTorch loads, which
# is when this must be set; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
