"""The exceptions Amber raises on purpose, and the one-line messages every Amber process prints.

Every exception here carries a message meant for a person and the exit code it means
(:attr:`AmberError.exit_code`: 2, or 1 for after-restore hooks that failed). Each process entry
point (the ``amber`` command, and :mod:`amber._boot`'s restore, run, snapshot and probe paths)
runs its work under :func:`entry_point`, which turns an :class:`AmberError` into a single
``amber: error: ...`` line and its exit code, and Ctrl-C into ``amber: interrupted`` and exit
code 130, never a traceback from Amber's internals; nothing else catches, prints and exits. An
``OSError`` that escapes Amber's own work (a key directory that is a file, a cache that cannot be
read) is one line too: ``amber: error: PATH: REASON``, exit code 2 (with ``AMBER_TRACEBACK=1`` in
the environment, after its traceback, for a bug report). The line formats live here and nowhere
else:

    amber: error: MESSAGE      fail() / error(): Amber cannot go on
    amber: warning: MESSAGE    warn(): it goes on, something is lost (no image built...)
    amber: note: MESSAGE       note(): worth knowing, nothing is wrong
    amber: hint: MESSAGE       hint(): what to do about the line before
    amber: MESSAGE             say(): progress, shown by ``amber run -v``

**Exit codes** of the ``amber`` command and of every Amber process, before the program resumes
(after it, the program's own): 0 done; 1 after-restore hooks failed; 2 an error (one line);
130 interrupted (Ctrl-C); :data:`OUTPUT_CLOSED` (141) standard output is closed or a broken pipe
(``amber inspect IMAGE | head``, ``>&-``): nothing more is printed, as a C program killed by
``SIGPIPE`` is seen by its shell (``set -o pipefail``), and what the command did before it wrote
(a key written, a cache cleared) stays done. Any other failure to write standard output (``>/dev/full``,
an I/O error) is one line and exit code 2. A command writes its output through :func:`output` (or
:class:`Output`, a stream for code that takes one), which turns every such failure into an
:class:`OutputError`; the ``amber`` command flushes standard output through :func:`finish_output`
before it leaves, so nothing fails later, at the interpreter's shutdown.

On the restore path: imports only the base set (and Amber's own state). No ``from __future__
import annotations`` here or in any restore-path module: it would put ``__future__`` into the
base set, so annotations that name what only type checkers import are strings.
"""

import posix
import sys

from amber.state import STATE

TYPE_CHECKING = False  # typing is not in the base set: its names are for type checkers only
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn, TypeVar

    _T = TypeVar("_T")

__all__ = ["AmberError", "ImageError", "CaptureError", "UsageError", "OutputError", "OUTPUT_CLOSED", "fail",
           "error", "warn", "note", "hint", "say", "flush_streams", "output", "Output", "finish_output",
           "describe_os_error", "entry_point"]

OUTPUT_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for a C program writing into a closed pipe


class AmberError(Exception):
    """Base of every error Amber reports to the user: its message is the one line shown, its
    :attr:`exit_code` the process's exit code (see :func:`entry_point`)."""

    exit_code: int = 2
    quiet: bool = False  # no line: the exit code says it all (a closed standard output)


class ImageError(AmberError):
    """An image cannot be used: not an image, damaged, truncated, or made for another interpreter."""


class CaptureError(AmberError):
    """The program's state cannot be captured; the message lists every offender with its path."""


class UsageError(AmberError):
    """The command line or an API call was used wrongly."""


class OutputError(AmberError):
    """Standard output cannot take a command's output. Closed or a broken pipe: no line, exit code
    :data:`OUTPUT_CLOSED` (:attr:`quiet`); any other write error: one line, exit code 2."""

    def __init__(self, message: str = "", closed: bool = False) -> None:
        super().__init__(message)
        self.quiet = closed
        self.exit_code = OUTPUT_CLOSED if closed else 2


def describe_os_error(e: OSError) -> str:
    """``PATH: REASON`` (``PATH -> OTHER: REASON`` for a rename), as Unix tools say it."""
    reason = e.strerror or str(e)
    if e.filename is None:
        return reason
    where = str(e.filename) + ("" if e.filename2 is None else f" -> {e.filename2}")
    return f"{where}: {reason}"


def describe_error(error: BaseException) -> str:
    """One line for an error that stops an attempt Amber then gives up on (``amber run`` says it
    in its warning): an AmberError's first line, an OSError as :func:`describe_os_error` says it,
    anything else with its type."""
    if isinstance(error, AmberError):
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        return describe_os_error(error)
    return f"{type(error).__name__}: {error}"


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


_CLOSED_ERRNOS = (32, 9)  # EPIPE, EBADF: nobody reads (the same numbers on every POSIX system Amber runs on)


def _to_null(stream) -> None:
    """Point ``stream``'s file descriptor at /dev/null (if it has one)."""
    try:
        fd = stream.fileno() if stream is not None else -1
        if fd >= 0:
            null = posix.open("/dev/null", posix.O_WRONLY)
            if null != fd:
                posix.dup2(null, fd)
                posix.close(null)
    except Exception:  # no descriptor (a replacement stream), or closed: nothing will flush into it
        pass


def _output_failed(e: "OSError | None") -> OutputError:
    """The error for a failed write to standard output; standard output then goes to /dev/null,
    so that what is still buffered does not fail again when the interpreter flushes it at exit."""
    _to_null(sys.stdout)
    if e is None or isinstance(e, BrokenPipeError) or e.errno in _CLOSED_ERRNOS:
        return OutputError("standard output is closed", closed=True)
    return OutputError(f"cannot write to standard output: {e.strerror or e}")


class Output:
    """Standard output for a command's output, as a stream (``write``, ``flush``; bytes with
    ``binary``): a write or flush that fails raises :class:`OutputError` (see the module's
    docstring). Looked up at each call: ``sys.stdout`` is None when the process started without
    one (``>&-``)."""

    def __init__(self, binary: bool = False) -> None:
        self.binary = binary

    def _stream(self):
        stream = sys.stdout
        if stream is None:
            raise _output_failed(None)
        return stream.buffer if self.binary else stream

    def write(self, data) -> int:
        try:
            return self._stream().write(data)
        except OSError as e:
            raise _output_failed(e) from None
        except ValueError:  # I/O operation on closed file
            raise _output_failed(None) from None

    def flush(self) -> None:
        try:
            self._stream().flush()
        except OSError as e:
            raise _output_failed(e) from None
        except ValueError:
            raise _output_failed(None) from None


def output(text: str) -> None:
    """Write ``text`` (a command's output, not a message) to standard output, flushed."""
    out = Output()
    out.write(text)
    out.flush()


def finish_output() -> None:
    """Flush what a command left in standard output's buffer (argparse's help, a print);
    a failure raises :class:`OutputError`. Nothing to do without a standard output."""
    if sys.stdout is not None:
        Output().flush()


def _exit(code: int) -> "NoReturn":
    raise SystemExit(code)


def entry_point(work: "Callable[[], _T]", leave: "Callable[[int], object]" = _exit) -> "_T":
    """Run one process's Amber work with the one error handler of that process; return what
    ``work`` returned.

    An :class:`AmberError` becomes one ``amber: error:`` line and its ``exit_code`` (no line for a
    closed standard output, see :class:`OutputError`); an ``OSError`` that escaped Amber's work
    one line too, exit code 2 (a broken pipe: no line, :data:`OUTPUT_CLOSED`); Ctrl-C becomes
    ``amber: interrupted`` and 130. ``leave`` is how the process exits (``posix._exit`` where the
    program's atexit handlers must not run). Once the program has resumed after its snapshot
    point (:attr:`amber.state.State.resumed`), what it raises is its own and propagates as under
    plain ``python``.
    """
    try:
        return _handled(work, leave)
    except BaseException as e:
        if not STATE.resumed or isinstance(e, SystemExit):
            raise
        _programs_own(e)


def _programs_own(error: BaseException) -> "NoReturn":
    """The program raised after it resumed: shown as python shows it, through ``sys.excepthook``
    with the program's frames only (not Amber's boot, this handler and the restore), then exit
    code 1, or death by SIGINT for Ctrl-C (what a shell shows as 130), as python does."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_AMBER_DIR):
        tb = tb.tb_next
    sys.excepthook(type(error), error.with_traceback(tb), tb)  # (the default hook prints __traceback__)
    for stream in (sys.stdout, sys.stderr):  # a broken pipe: exit code 1 as python's, not 120 at exit
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            _to_null(stream)
    if isinstance(error, KeyboardInterrupt):
        import _signal

        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
        posix.kill(posix.getpid(), _signal.SIGINT)
    raise SystemExit(1) from None


def _handled(work: "Callable[[], _T]", leave: "Callable[[int], object]") -> "_T":
    try:
        return work()
    except AmberError as e:
        if STATE.resumed:
            raise
        if not e.quiet:
            error(str(e))
        return _leave(leave, e.exit_code)
    except BrokenPipeError:  # standard output (a pipe) was closed by its reader
        if STATE.resumed:
            raise
        return _leave(leave, _output_failed(None).exit_code)
    except OSError as e:  # the world Amber works in: a key directory that is a file, a full disk...
        if STATE.resumed:
            raise
        if posix.environ.get(b"AMBER_TRACEBACK"):  # where, for a bug report
            import traceback

            traceback.print_exc()
        error(describe_os_error(e))
        return _leave(leave, 2)
    except KeyboardInterrupt:
        if STATE.resumed:
            raise
        _line("amber: interrupted")
        return _leave(leave, 130)


_AMBER_DIR = __file__.rpartition("/")[0] + "/"


def _leave(leave: "Callable[[int], object]", code: int) -> "NoReturn":
    """Leave with ``code``; a stream that cannot be flushed now goes to /dev/null (the process
    ends: nothing else will write to it), so that its buffer does not fail again at shutdown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            _to_null(stream)
    leave(code)
    raise SystemExit(code) from None  # ``leave`` returned: never fall through into the program
