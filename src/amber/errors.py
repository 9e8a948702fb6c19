"""The exceptions Amber raises on purpose, and the one-line messages every Amber process prints.

Every exception here carries a message meant for a person and the exit code it means
(:attr:`AmberError.exit_code`: 2, or 1 for after-restore hooks that failed). Each process entry
point (the ``amber`` command, and :mod:`amber._boot`'s restore, run, snapshot and probe paths)
runs its work under :func:`entry_point`, which turns an :class:`AmberError` into a single
``amber: error: ...`` line and its exit code, and Ctrl-C into ``amber: interrupted`` and exit
code 130, never a traceback from Amber's internals; nothing else catches, prints and exits. The
line formats live here and nowhere else:

    amber: error: MESSAGE      fail() / error(): Amber cannot go on
    amber: warning: MESSAGE    warn(): it goes on, something is lost (no image built...)
    amber: note: MESSAGE       note(): worth knowing, nothing is wrong
    amber: hint: MESSAGE       hint(): what to do about the line before
    amber: MESSAGE             say(): progress, shown by ``amber run -v``

On the restore path: imports only the base set (and Amber's own state). No ``from __future__
import annotations`` here or in any restore-path module: it would put ``__future__`` into the
base set, so annotations that name what only type checkers import are strings.
"""

import sys

from amber.state import STATE

TYPE_CHECKING = False  # typing is not in the base set: its names are for type checkers only
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn, TypeVar

    _T = TypeVar("_T")

__all__ = ["AmberError", "ImageError", "CaptureError", "UsageError", "fail", "error", "warn", "note",
           "hint", "say", "flush_streams", "entry_point"]


class AmberError(Exception):
    """Base of every error Amber reports to the user: its message is the one line shown, its
    :attr:`exit_code` the process's exit code (see :func:`entry_point`)."""

    exit_code: int = 2


class ImageError(AmberError):
    """An image cannot be used: not an image, damaged, truncated, or made for another interpreter."""


class CaptureError(AmberError):
    """The program's state cannot be captured; the message lists every offender with its path."""


class UsageError(AmberError):
    """The command line or an API call was used wrongly."""


def _line(text: str) -> None:
    stream = sys.stderr
    if stream is None:  # no stderr (pythonw, closed by the program): nothing to tell
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):  # a closed or broken stderr must not turn into a traceback
        pass


def error(message: str) -> None:
    """Print ``amber: error: MESSAGE``; the caller leaves (see :func:`fail`)."""
    _line(f"amber: error: {message}")


def fail(message: str, code: int = 2) -> "NoReturn":
    """Print ``amber: error: MESSAGE`` and leave with ``code`` (where no :func:`entry_point` runs;
    everywhere else, raise an :class:`AmberError`)."""
    error(message)
    raise SystemExit(code)


def warn(message: str) -> None:
    _line(f"amber: warning: {message}")


def note(message: str) -> None:
    _line(f"amber: note: {message}")


def hint(message: str) -> None:
    _line(f"amber: hint: {message}")


def say(message: str, *, verbose: bool) -> None:
    """``amber: MESSAGE`` when ``verbose`` (``amber run -v``), else nothing."""
    if verbose:
        _line(f"amber: {message}")


def flush_streams() -> None:
    """Flush stdout and stderr before the process leaves or becomes another (``os._exit``,
    ``execv`` flush nothing). A stream that is missing, closed or broken (or the program's own
    replacement, raising whatever it raises) is skipped: leaving must not fail."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _exit(code: int) -> "NoReturn":
    raise SystemExit(code)


def entry_point(work: "Callable[[], _T]", leave: "Callable[[int], object]" = _exit) -> "_T":
    """Run one process's Amber work with the one error handler of that process; return what
    ``work`` returned.

    An :class:`AmberError` becomes one ``amber: error:`` line and its ``exit_code``; Ctrl-C becomes
    ``amber: interrupted`` and 130. ``leave`` is how the process exits (``posix._exit`` where the
    program's atexit handlers must not run). Once the program has resumed after its snapshot
    point (:attr:`amber.state.State.resumed`), what it raises is its own and propagates as under
    plain ``python``.
    """
    try:
        return work()
    except AmberError as e:
        if STATE.resumed:
            raise
        error(str(e))
        flush_streams()
        leave(e.exit_code)
        raise SystemExit(e.exit_code) from None  # ``leave`` returned: never fall through into the program
    except KeyboardInterrupt:
        if STATE.resumed:
            raise
        _line("amber: interrupted")
        flush_streams()
        leave(130)
        raise SystemExit(130) from None
