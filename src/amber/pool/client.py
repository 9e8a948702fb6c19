"""The caller's side of a pool: hand this process's situation to a pool's instance, wait for it,
and leave as it left.

:func:`serve` is called before a restore (``amber restore``, ``./IMAGE``, a cached ``amber
run``). With no pool for the image, it costs one ``lstat`` and returns. With one, it connects
(the pool directory must be private and the server this user's: :mod:`amber.pool.paths`), sends
the request (:mod:`amber.pool.wire`) with the standard streams as descriptors, and once the
instance has taken it on (``P<pid>``), forwards the signals a caller receives (Ctrl-C, ``kill``,
a terminal's hang-up or resize) to the instance, then exits with the instance's code, or dies of
the signal that killed it. A pool that is busy, stale, gone, or not to be trusted is not an
error: :func:`serve` returns and the caller restores the image itself (with one warning line
when something was wrong, never for ``busy``/``stale``/no pool).

On the restore path: imports only the base set at module level; ``_socket`` and ``resource``
only once a pool's socket is there (and are taken out of ``sys.modules`` again if the pool
declines, so that a restore's base set stays what the snapshot side has).
"""

import _signal
import posix
import sys

from amber.errors import flush_streams, warn
from amber.pool import paths, wire

# Signals a caller forwards to its instance: what a user, a terminal or a supervisor sends to
# "the program" (Ctrl-C, Ctrl-\, kill, hang-up, window resize, the user signals).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FORWARDED = tuple(getattr(_signal, name) for name in
                  ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGALRM",
                   "SIGCONT") if hasattr(_signal, name))
LIMITS = ("RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_AS", "RLIMIT_DATA",
          "RLIMIT_NPROC", "RLIMIT_MEMLOCK", "RLIMIT_STACK")
TAKE_ON_SECONDS = 10.0  # an instance takes a request on in milliseconds; a wedged pool is left


def serve(image: str, args: list, argv0: "str | None" = None, print_output: bool = False,
          worker_fds: "list | None" = None) -> None:
    """Run the program through a pool of ``image`` and exit as it exits; return if there is no
    pool to use (the caller then restores the image itself). ``worker_fds``: instead of the rest
    of ``__main__``, the instance serves as a multiprocessing worker on these descriptors (its
    pipe, and its resource tracker's if any: :mod:`amber.restore.worker`)."""
    try:
        ident = paths.identity(image)
    except OSError:
        return
    directory = paths.pool_dir()
    sock_path = paths.socket_path(directory, paths.pool_name(ident))
    if not paths.is_own_socket(sock_path):
        return  # no pool: the common case, one lstat
    unsafe = paths.unsafe(directory)
    if unsafe is not None:
        warn(f"the pool directory is not safe to use ({unsafe}); restoring without the pool")
        return
    before = set(sys.modules)
    try:
        _through(sock_path, ident, args, argv0, print_output, worker_fds)
    finally:  # declined: the restore that follows starts from the base set
        for name in set(sys.modules) - before:
            del sys.modules[name]


def _through(sock_path: str, ident: tuple, args: list, argv0: "str | None", print_output: bool,
             worker_fds: "list | None") -> None:
    import _socket

    # The caller's streams are looked at before the socket exists: made first, it would take the
    # number of a closed stream (0, 1 or 2) and be sent as that stream.
    streams, fds = _open_streams()
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            sock.connect(sock_path)
        except ConnectionRefusedError:  # a pool that died: its socket must not stay in the way
            _remove(sock_path)
            return
        except OSError:
            return
        pid, uid, _gid = _peer(sock, _socket)
        if uid != posix.geteuid():
            warn(f"the pool at {sock_path} runs as another user (uid {uid}); restoring without the pool")
            return
        extra = list(worker_fds or ())
        fds += extra
        cwd = posix.getcwdb()
    except OSError:
        sock.close()
        return  # (a working directory that is gone: the restore says what python would)
    try:
        request = wire.Request(identity=repr(ident), argv0=argv0, args=list(args),
                               orig_argv=list(getattr(sys, "orig_argv", [])),
                               environ=list(posix.environ.items()), cwd=cwd, umask=_umask(),
                               ignored_signals=_ignored_signals(), limits=_limits(),
                               print_output=print_output, streams=streams, stdio=_stdio(),
                               mode=wire.MAIN if worker_fds is None else wire.WORKER, extra=len(extra))
        data = wire.encode(request)
        sock.settimeout(TAKE_ON_SECONDS)
        reader = _Lines(sock)
        try:
            sent = sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                          b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds))])
            sock.sendall(data[sent:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server said no before reading (busy, stale): its line is there to read
        first = reader.line()
    except (OSError, ValueError) as e:
        sock.close()
        warn(f"the pool of this image did not answer ({type(e).__name__}: {e}); restoring without the pool")
        return
    if first is None or not first.startswith("P"):
        sock.close()
        why = "it closed the connection" if first is None else first[1:]
        if first is None or why not in (wire.BUSY, wire.STALE, wire.DECLINED):
            warn(f"the pool of this image did not serve it ({why}); restoring without the pool")
        return
    _wait_for(int(first[1:]), sock, reader)


def _wait_for(pid: int, sock, reader: "_Lines") -> None:
    """The instance runs: forward signals to it, then leave with its status (never returns)."""
    sock.settimeout(None)
    forward = _forwarder(pid)
    for signum in FORWARDED:
        if _signal.getsignal(signum) != _signal.SIG_IGN:
            _signal.signal(signum, forward)
    while True:
        try:
            line = reader.line()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
    flush_streams()
    if line is not None and line.startswith("X"):
        posix._exit(int(line[1:]))
    if line is not None and line.startswith("K"):
        signum = int(line[1:])
        for s in FORWARDED:
            _signal.signal(s, _signal.SIG_DFL)
        _signal.signal(signum, _signal.SIG_DFL)
        posix.kill(posix.getpid(), signum)
        posix._exit(128 + signum)  # a signal whose default is not to die (it was the instance's)
    warn("the pool ended while the program ran; its exit status is lost")
    posix._exit(1)


def _forwarder(pid: int):
    def forward(signum: int, _frame: object) -> None:
        try:
            posix.kill(pid, signum)
        except OSError:
            pass  # it has just exited: its status is on its way
    return forward


class _Lines:
    """Reply lines from the socket (None at its end)."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.buffer = b""

    def line(self) -> "str | None":
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("ascii", "replace")


def _peer(sock, _socket) -> "tuple[int, int, int]":
    raw = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return (int.from_bytes(raw[0:4], sys.byteorder, signed=True),
            int.from_bytes(raw[4:8], sys.byteorder, signed=True),
            int.from_bytes(raw[8:12], sys.byteorder, signed=True))


def _open_streams() -> "tuple[int, list]":
    streams, fds = 0, []
    for fd in (0, 1, 2):
        try:
            posix.fstat(fd)
        except OSError:
            continue
        streams |= 1 << fd
        fds.append(fd)
    return streams, fds


def _stdio() -> list:
    """How this interpreter made its standard streams for the caller's environment and
    descriptors (what a restore's would be): the instance makes its own so."""
    out: list = []
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            made: Any = stream  # an io.TextIOWrapper (write_through is not in TextIO's stubs)
            out.append((made.encoding, made.errors, made.line_buffering, made.write_through))
        except AttributeError:
            out.append(None)
    return out


def _umask() -> int:
    mask = posix.umask(0o22)
    posix.umask(mask)
    return mask


def _ignored_signals() -> list:
    ignored = []
    for signum in range(1, _signal.NSIG):
        try:
            if _signal.getsignal(signum) == _signal.SIG_IGN:
                ignored.append(signum)
        except (OSError, ValueError):
            pass
    return ignored


def _limits() -> list:
    try:
        import resource
    except ImportError:  # pragma: no cover - every POSIX CPython has it
        return []
    out = []
    for name in LIMITS:
        which = getattr(resource, name, None)
        if which is not None:
            soft, hard = resource.getrlimit(which)
            out.append((which, soft, hard))
    return out


def _remove(path: str) -> None:
    try:
        posix.unlink(path)
    except OSError:
        pass
