"""One instance of a pool: the forked child takes the caller's situation on and resumes the
program, as ``amber restore IMAGE ARGS`` would have in the caller's place.

In order (:meth:`Instance.take_on`): read the request (:mod:`amber.pool.wire`; a bad one ends
this child with ``E`` and nothing else); the caller's descriptors become fds 0, 1, 2 (one the
caller did not have open is closed, and its ``sys`` stream is None, as python makes it), and the
standard streams are line-buffered where python would make them so (a terminal); the caller's
environment replaces the pool's (``os.environ`` included), with the changes start-up made to it
applied again; its working directory, umask, resource limits and ignored signals; the other
signals as a fresh interpreter has them. Then what must differ per instance is renewed
(:mod:`amber.pool.entropy`, planned once by the server), the modules only the pool's server
imported leave ``sys.modules``, ``P<pid>`` tells the caller where to send its signals, and
:func:`amber.restore.loader.resume` runs the after-restore hooks and the rest of ``__main__``
(:meth:`Instance.run`).

Shared with the pool (said in the README next to a restore's guarantees): the hash seed and the
address layout (fresh per pool, not the snapshot's), and what modules imported again read from
the environment while they were imported (the pool's start-up environment).
"""

import _signal
import posix
import sys

from amber.pool import wire

RECEIVE_SECONDS = 10.0  # a caller sends its request at once; one that does not is given up


class RequestError(Exception):
    """The request cannot be served (said to the caller as ``E``)."""


class Instance:
    """A forked child of the pool's server, with its connection to the caller."""

    def __init__(self, conn, manifest: dict, pool, options) -> None:
        self.conn = conn
        self.manifest = manifest
        self.pool = pool  # the server's view of the image: identity, prelude, output, modules
        self.options = options  # the pool's (amber.options.PoolOptions)
        self.request: wire.Request | None = None
        self.extra_fds: list = []  # a worker's pipe and tracker, as numbered here

    def take_on(self) -> None:
        """Become the caller's process (see the module's docstring); RequestError if not."""
        request, fds = self._receive()
        self.request = request
        if request.identity != repr(self.pool.identity):
            raise RequestError(wire.STALE)
        if self.options.fresh_process and (request.mode != wire.MAIN or request.print_output):
            raise RequestError(wire.DECLINED)  # amber run and workers restore by themselves
        streams = bin(request.streams).count("1")
        self.extra_fds = fds[streams:]
        _streams(request.streams, fds[:streams], request.stdio)
        # (--fresh-process: no changes here, the restore it becomes applies them)
        _environment(request.environ, self.pool.environ_changes)
        try:
            posix.chdir(request.cwd)
        except OSError as e:
            raise RequestError(f"cannot enter the working directory: {e.strerror}") from None
        posix.umask(request.umask)
        _limits(request.limits)
        _signals(set(request.ignored_signals), self.pool.signals)
        sys.orig_argv = list(request.orig_argv)  # the restoring command's, as a restore has it
        self.pool.entropy.apply()
        for name in set(sys.modules) - self.pool.modules:
            del sys.modules[name]  # the server's own imports (_socket, select): not the program's

    def _receive(self) -> "tuple[wire.Request, list]":
        import _socket

        conn = self.conn
        conn.settimeout(RECEIVE_SECONDS)
        head_size = len(wire.MAGIC) + 4
        try:
            head, ancillary, _flags, _addr = conn.recvmsg(head_size, _socket.CMSG_SPACE(3 * 4))
            fds = []
            for level, kind, data in ancillary:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    fds += [int.from_bytes(data[i:i + 4], sys.byteorder) for i in range(0, len(data) - 3, 4)]
            head += _exactly(conn, head_size - len(head))
            body = _exactly(conn, wire.body_length(head))
            request = wire.decode(body)
        except (OSError, ValueError) as e:
            raise RequestError(f"bad request ({type(e).__name__}: {e})") from None
        if len(fds) != bin(request.streams).count("1") + request.extra:
            raise RequestError("bad request (descriptors do not match)")
        conn.settimeout(None)
        return request, fds

    def refuse(self, why: str) -> None:
        try:
            self.conn.sendall(wire.reply("E", why))
        except OSError:
            pass

    def run(self) -> None:
        """Tell the caller, then resume the program (its exit is this process's)."""
        from amber.restore import loader

        request = self.request
        assert request is not None
        self.conn.sendall(wire.reply("P", posix.getpid()))
        # The connection stays open (close-on-exec) until this process ends: the caller waits
        # on it, and the server reports the exit status through its own copy.
        if self.options.fresh_process:
            _exec_a_restore(self.options.image, request)
        if request.mode == wire.WORKER:
            from amber.restore import worker

            pipe_fd, tracker_fd = (self.extra_fds + [-1])[:2]
            worker.serve(self.manifest, pipe_fd, tracker_fd)
            return
        output = self.pool.output if request.print_output else None

        def before_hooks() -> None:
            if output:
                for fd, text in output:
                    stream = sys.stdout if fd == 1 else sys.stderr
                    if stream is not None:
                        stream.write(text)
                        stream.flush()
        loader.resume(self.manifest, request.args, argv0=request.argv0, before_hooks=before_hooks)


def _exec_a_restore(image: str, request: wire.Request) -> None:
    """``--fresh-process``: this process (the caller's situation taken on) becomes a restore of
    the image, with an address layout and hash seed of its own."""
    from amber._files import BOOT
    from amber.options import RestoreOptions

    options = RestoreOptions(image, no_pool=True, args=request.args)
    cmd = [sys.executable, "-I", "-S", BOOT, "restore", *options.encode()]
    from amber.errors import flush_streams

    flush_streams()
    posix.execv(cmd[0], cmd)


def _exactly(conn, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise ValueError("request cut short")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _streams(streams: int, fds: list, stdio: list) -> None:
    """The caller's descriptors as fds 0, 1, 2, and the ``sys`` streams encoded and buffered as
    the caller's interpreter made its own for them (a terminal's stdout by line; the locale's
    encoding, and its errors handler, for the caller's environment)."""
    received = iter(fds)
    for fd in (0, 1, 2):
        name = ("stdin", "stdout", "stderr")[fd]
        stream = getattr(sys, name)
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        if streams & (1 << fd):
            got = next(received)
            if got != fd:
                posix.dup2(got, fd)
                posix.close(got)
        else:
            try:
                posix.close(fd)
            except OSError:
                pass
            setattr(sys, name, None)
            setattr(sys, f"__{name}__", None)
    for name, made in zip(("stdin", "stdout", "stderr"), stdio, strict=True):
        stream = getattr(sys, name)
        if stream is not None and made is not None:
            encoding, errors, line_buffering, write_through = made
            try:
                stream.reconfigure(encoding=encoding, errors=errors, line_buffering=line_buffering,
                                   write_through=write_through)
            except (OSError, ValueError, AttributeError, LookupError):
                pass


def _environment(environ: list, changes: dict) -> None:
    """The caller's environment, then start-up's changes to it (as a restore applies them),
    in the process's environment and in ``posix.environ`` (which ``os.environ`` wraps)."""
    from amber.restore.loader import apply_environ

    current = posix.environ
    for name in list(current):
        posix.unsetenv(name)
    current.clear()
    for name, value in environ:
        current[name] = value
        posix.putenv(name, value)
    apply_environ(changes)


def _limits(limits: list) -> None:
    if not limits:
        return
    import resource

    for which, soft, hard in limits:
        try:
            if resource.getrlimit(which) != (soft, hard):
                resource.setrlimit(which, (soft, hard))
        except (OSError, ValueError):
            pass  # a hard limit above the pool's cannot be raised: the pool's stays


def _signals(ignored: set, restored: dict) -> None:
    """Every signal as a restore started by the caller has it: the handlers the image set (the
    parent has them; those the server took over are put back from ``restored``), and, where the
    image left the default, ignored when the caller ignores it (``nohup``'s SIGHUP)."""
    for signum, handler in restored.items():
        try:
            _signal.signal(signum, handler if handler is not None else _signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError, TypeError):
            pass
    for signum in ignored:
        try:
            if _signal.getsignal(signum) == _signal.SIG_DFL:
                _signal.signal(signum, _signal.SIG_IGN)
        except (OSError, ValueError, RuntimeError):
            pass
    _signal.set_wakeup_fd(-1)
