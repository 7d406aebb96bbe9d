"""The course's common package: configuration, devices, data files, run folders and metrics.

`shared` imports no week. Every week may import it.
"""

import os

# On a busy machine (other programs on the same cores) OpenMP's default of spinning while it
# waits for its threads made each training step up to 20x slower in week 4's measurements;
# sleeping instead costs almost nothing. Every week imports `shared` before PyTorch loads, which
# is when this must be set; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from shared import sections as _sections  # noqa: F401  (registers `data` and `run`)
