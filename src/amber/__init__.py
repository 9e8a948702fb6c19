"""Amber: snapshot a running Python program into an image, restore fresh processes from it.

Command line (see ``amber --help``)::

    amber snapshot [-o IMAGE] SCRIPT [ARGS...]      run SCRIPT to its snapshot point, write IMAGE
    amber snapshot [-o IMAGE] -m MODULE [ARGS...]
    amber restore IMAGE [ARGS...]                   restore, resume after the snapshot point
    amber inspect IMAGE [--json]                    what an image holds
    amber run [--rebuild] [-v] SCRIPT [ARGS...]     restore from the cache, or build the image
    amber cache list | clear

The public Python API is this module's handful of names:

``snapshot()``
    Marks the snapshot point when written as a top-level statement of the main script. Under
    plain ``python`` it does nothing. Elsewhere, under ``amber snapshot``, it is an error (until
    execution-state capture exists).
``is_restored()``
    True in a process restored from an image.
``reimport(*packages)``
    Ask that these packages be imported again at restore instead of captured by value (the
    analogue of a native-image build's run-time initialisation). Call it before the snapshot point.
``startup_args(count)``
    Tell ``amber run`` that start-up reads only the first ``count`` command-line arguments, so
    its cached image serves any later arguments (by default every argument is part of the
    cache key). Call it before the snapshot point.
``AmberError``
    The base of every error Amber raises on purpose.

This module imports nothing beyond the interpreter's start-up set: it is loaded by every restore.
"""

from amber.errors import AmberError

__version__ = "0.1.0"
__all__ = ["snapshot", "is_restored", "reimport", "startup_args", "AmberError", "__version__"]

# Process-wide state. ``mode`` is None under plain python, "snapshotting" while a snapshot run
# executes the program, "restored" after a restore.
_state = {"mode": None, "reimport": set()}


def snapshot() -> None:
    """The snapshot point, when written as a top-level statement of the main script."""
    if _state["mode"] == "snapshotting":
        raise AmberError(
            "amber.snapshot() was called from inside a function or a nested block; it must be a "
            "top-level statement of the main script (execution-state capture does not exist yet)")


def is_restored() -> bool:
    """True in a process restored from an Amber image."""
    return _state["mode"] == "restored"


def reimport(*packages: str) -> None:
    """Import these top-level packages again at restore instead of capturing them by value."""
    for name in packages:
        if not isinstance(name, str) or not name:
            raise TypeError("amber.reimport() takes package names as strings")
        _state["reimport"].add(name.partition(".")[0])


def startup_args(count: int) -> None:
    """Start-up depends on the first ``count`` command-line arguments only (for ``amber run``)."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise TypeError("amber.startup_args() takes a count of arguments, 0 or more")
    _state["startup_args"] = count
