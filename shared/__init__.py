"""The course's common package: configuration, devices, data files, run folders and metrics.

`shared` imports no week. Every week may import it.
"""

from shared import sections as _sections  # noqa: F401  (registers the `data` and `run` sections)
