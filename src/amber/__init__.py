"""Amber: snapshot a running Python program into an image, restore fresh processes from it.

The command line is ``amber run``, ``snapshot``, ``restore``, ``inspect``, ``cache``, ``keygen``,
``trust``: ``amber --help`` lists them with usage lines made from their option declarations
(:mod:`amber.commands`), so this docstring does not repeat them.

The public Python API is this module's handful of names:

``snapshot()``
    The snapshot point: a top-level statement of the main script splits the script there;
    called inside functions (or generators a ``for`` loop or ``yield from`` drives), the image
    holds the running stack and a restore returns from that very call (README, "A snapshot
    inside functions"). Under plain ``python``, and after a restore, it does nothing.
``checkpoint(path)``
    Write an image of the program as it is now, from a forked child, and go on; a restore
    returns from that call (a long computation killed goes on from its last checkpoint).
``is_restored()``
    True in a process restored from an image.
``reimport(*packages)``
    Ask that these packages be imported again at restore instead of captured by value (the
    analogue of a native-image build's run-time initialisation). Call it before the snapshot point.
``startup_args(count)``
    Tell ``amber run`` that start-up reads only the first ``count`` command-line arguments, so
    its cached image serves any later arguments (by default every argument is part of the
    cache key). Call it before the snapshot point.
``before_snapshot(fn=None, *args, priority=0, **kwargs)`` / ``after_restore(...)``
    Lifecycle hooks: decorators (``@amber.before_snapshot``, ``@amber.after_restore(priority=5)``)
    or calls (``amber.after_restore(fn, *args)``). Before a snapshot: lower priority first,
    reverse registration order within one. After a restore: higher priority first, registration
    order within one. Amber's built-ins use priority 1000. Every hook runs even when one
    raises; errors are reported together (see :mod:`amber.lifecycle`).
``Resource`` / ``register(resource, priority=0)``
    An object with ``before_snapshot()`` and ``after_restore()``; ``register`` holds it strongly.
``transient(obj, factory)``
    ``obj`` is not written; in the restored heap every reference to it is ``factory()``.
``secret(name)``
    The value of environment variable ``name``; an image records the name, never the value,
    and the restored process reads its own environment (see :mod:`amber.secrecy`).
``keep_state(obj)``
    A random generator seeded on purpose: no warning that restored processes repeat it.
``AmberError``
    The base of every error Amber raises on purpose.

And one submodule, imported on its own: ``amber.multiprocessing.get_context()``, a
multiprocessing context whose workers are restored from the image (:mod:`amber.multiprocessing`).

This module imports nothing beyond the interpreter's start-up set: it is loaded by every restore.
"""

import sys

from amber import state  # the submodule (an attribute of the package anyway): state.STATE
from amber.errors import AmberError
from amber.lifecycle import Resource, after_restore, before_snapshot, keep_state, register, transient
from amber.secrecy import secret

__version__ = "0.1.0"
__all__ = ["snapshot", "checkpoint", "is_restored", "reimport", "startup_args", "before_snapshot",
           "after_restore", "Resource", "register", "transient", "secret", "keep_state", "AmberError",
           "__version__"]


def snapshot() -> None:
    """The snapshot point. As a top-level statement of the main script, the script is split
    there; called inside functions (any depth of Python calls from the main script, generators
    driven by a ``for`` loop or ``yield from`` included), the image holds the running stack and a
    restore returns from this very call, in the same frames with the same locals. Under plain
    ``python``, and after a restore, it does nothing."""
    hook = state.STATE.point_hook
    if hook is not None:
        hook(sys._getframe(0))


def checkpoint(path) -> None:
    """Write an image of the program as it is now to ``path`` and return at once: a forked child
    writes it (signed, mode 0600, whole or not at all) while the program goes on, and ``amber
    restore PATH`` returns from this very call. Checkpoints are taken where Amber watches the
    program: a main script that calls ``amber.checkpoint`` run by ``amber run`` (each run of it
    is then watched from its start; no start-up image is kept for it) or ``amber snapshot``.
    Elsewhere (plain ``python``, a restored process: not yet) it writes nothing and says so,
    once; a checkpoint that cannot be written is one warning, and the program goes on."""
    if not isinstance(path, str):
        fspath = getattr(type(path), "__fspath__", None)  # (os.fspath, without importing os here)
        path = fspath(path) if fspath is not None else path
    if not isinstance(path, str):
        raise TypeError(f"amber.checkpoint() takes a path (str or os.PathLike of str), not "
                        f"{type(path).__name__}")
    hook = state.STATE.checkpoint_hook
    if hook is not None:
        hook(sys._getframe(0), path)
    elif not _unwatched_said:
        _unwatched_said.append(True)
        where = "in a restored process" if state.STATE.restored else "unless Amber watches the program"
        sys.stderr.write(f"amber: warning: amber.checkpoint() writes nothing {where} (not yet after a "
                         "restore; run the program with `amber run`); it goes on without checkpoints\n")


_unwatched_said: list = []


def is_restored() -> bool:
    """True in a process restored from an Amber image."""
    return state.STATE.restored


def reimport(*packages: str) -> None:
    """Import these top-level packages again at restore instead of capturing them by value."""
    for name in packages:
        if not isinstance(name, str) or not name:
            raise TypeError("amber.reimport() takes package names as strings")
        state.STATE.add_reimport(name.partition(".")[0])


def startup_args(count: int) -> None:
    """Start-up depends on the first ``count`` command-line arguments only (for ``amber run``)."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise TypeError("amber.startup_args() takes a count of arguments, 0 or more")
    state.STATE.set_startup_args(count)
