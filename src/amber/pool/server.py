"""A pool's resident parent: restore the image once, then fork an instance per caller.

``_boot.py pool <PoolOptions>`` (started detached by ``amber pool start``,
:mod:`amber.commands.pool`): the image is read and checked and its heap rebuilt exactly as a
restore does (:func:`amber.restore.loader.load_image`), with ``os.urandom`` watched while the
modules held by reference are imported again (:mod:`amber.pool.entropy`); the heap is then
frozen (``gc.freeze()``: the collector of an instance never writes to the pages it shares with
the parent) and the socket made (:mod:`amber.pool.paths`) under a temporary name, renamed into
place once it listens, so a caller that finds it finds it served. ``ready PID`` goes to
``amber pool start``, which returns.

The loop (:meth:`Server.serve`): a connection from another uid is refused (``SO_PEERCRED``);
past ``size`` running instances a caller is told ``busy``; otherwise the server forks. The
child returns from :meth:`Server.serve` with its :class:`~amber.pool.instance.Instance`
(``_boot`` runs it under its own error handler, as a restore runs the program); the parent
keeps its copy of the connection, reaps the child and writes its status there (``X``/``K``),
and kills an instance whose caller went away (the caller's end closed: it was killed). The
parent never reads a request: a damaged one can only end the instance it was sent to.

It stops (removing its socket and record; running instances finish and are reported) on
SIGTERM (``amber pool stop``), after ``idle_timeout`` seconds without an instance, or when its
image file is no longer the one it loaded (checked every second: the image was rebuilt or
replaced), in which case it starts again on the new file once its instances are done.
"""

import _signal
import gc
import posix
import sys
import time

from amber.errors import AmberError, describe_error
from amber.image import format as fmt
from amber.options import PoolOptions
from amber.pool import entropy, paths, wire
from amber.pool.instance import Instance, RequestError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CHECK_SECONDS = 1.0  # how often the image file's identity and the idle time are looked at


class LoadedImage:
    """What instances need of the image besides the heap: its identity, start-up's changes to
    the environment, ``amber run``'s recorded output, the modules the server had after loading
    it, and where entropy is renewed."""

    def __init__(self, identity: tuple, environ_changes: dict, output: list, modules: set,
                 entropy_plan: entropy.Plan) -> None:
        self.identity = identity
        self.environ_changes = environ_changes
        self.output = output
        self.modules = modules
        self.entropy = entropy_plan
        self.signals: dict = {}  # the restore's dispositions of the signals the server handles


def main(argv: list) -> Instance:
    """Load, listen, serve; returns only in a forked instance."""
    options = PoolOptions.decode(argv)
    try:
        manifest, loaded = load(options.image, heap=not options.fresh_process)
        server = Server(options, manifest, loaded)
    except (AmberError, OSError) as e:
        _report(options.ready_fd, f"error {describe_error(e) if isinstance(e, OSError) else e}")
        raise
    _report(options.ready_fd, f"ready {posix.getpid()}")
    return server.serve()


def load(image_path: str, heap: bool = True) -> "tuple[dict, LoadedImage]":
    """The image read and checked, and (``heap``) its heap rebuilt; without it (``--fresh-process``)
    only checked: each instance restores it anew."""
    from amber.restore import loader

    before = paths.identity(image_path)
    image = fmt.read_image(image_path)
    prelude = image.decode(fmt.PRELUDE)
    output = image.decode(fmt.INPUTS).get("output", []) if image.has_section(fmt.INPUTS) else []
    if not heap:
        image.close()
        return {}, LoadedImage(before, {}, output, set(sys.modules), entropy.Plan())
    base = dict(sys.modules)
    recorder = entropy.DrawRecorder()
    try:
        manifest = loader.load_image(image)
    finally:
        drawn = recorder.stop()
    if paths.identity(image_path) != before:
        raise AmberError(f"{image_path} changed while the pool loaded it; start the pool again")
    _no_other_threads(image_path)
    # Held by reference: the base set (still the same module objects: __main__ is the program's
    # now) and the modules imported again.
    held = {name for name, module in base.items() if sys.modules.get(name) is module}
    held |= set(manifest["by_ref"])
    held.discard("__main__")
    plan = entropy.plan(drawn, held)
    gc.freeze()  # after this, an instance's collections leave the shared pages alone
    # An instance's sys.modules is a restore's: without the server's own modules.
    modules = set(sys.modules) - {"amber.pool.server", "amber.pool.instance", "amber.pool.entropy"}
    return manifest, LoadedImage(before, prelude["environ"], output, modules, plan)


def _no_other_threads(image_path: str) -> None:
    import _thread

    count = getattr(_thread, "_count", lambda: 0)()
    if count:
        raise AmberError(f"{image_path}: importing its modules again starts {count} thread(s); a pool "
                         "forks its instances and cannot fork threads: restore it without a pool")


def _report(fd: int, line: str) -> None:
    if fd < 0:
        return
    try:
        posix.write(fd, (line + "\n").encode("utf-8", "replace"))
        posix.close(fd)
    except OSError:
        pass


class Server:
    """The listening socket, the running instances, and the loop."""

    def __init__(self, options: PoolOptions, manifest: dict, loaded: LoadedImage) -> None:
        import _socket

        self.options = options
        self.manifest = manifest
        self.loaded = loaded
        self.pid = posix.getpid()
        self.directory = paths.make_pool_dir()
        self.name = paths.pool_name(loaded.identity)
        self.sock_path = paths.socket_path(self.directory, self.name)
        self.record_path = paths.record_path(self.directory, self.name)
        self.instances: dict = {}  # pid -> connection
        self.served = 0
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.stopping = False
        self.stale = False
        self.poller: Any = None  # select.poll(), once serving
        listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        temporary = f"{self.directory}/.{self.name}.{self.pid}.sock"
        _remove(temporary)
        listener.bind(temporary)
        listener.listen(128)
        posix.rename(temporary, self.sock_path)  # found only once it listens
        listener.setblocking(False)
        self.listener: _socket.socket | None = listener
        self._write_record()

    # -- the loop -------------------------------------------------------------------------
    def serve(self) -> Instance:
        import select

        wake_r, wake_w = posix.pipe()
        posix.set_blocking(wake_w, False)
        posix.set_blocking(wake_r, False)
        _signal.set_wakeup_fd(wake_w)
        # What a restore has for the signals the server takes over (the image's handlers among
        # them): an instance gets these back (amber.pool.instance).
        self.loaded.signals = {s: _signal.getsignal(s) for s in (_signal.SIGCHLD, _signal.SIGTERM,
                                                                 _signal.SIGINT, _signal.SIGHUP)}
        _signal.signal(_signal.SIGCHLD, lambda *_: None)  # wakes the poll through the pipe
        _signal.signal(_signal.SIGTERM, self._on_stop)
        _signal.signal(_signal.SIGINT, self._on_stop)
        _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)
        poller = self.poller = select.poll()
        poller.register(wake_r, select.POLLIN)
        assert self.listener is not None
        poller.register(self.listener.fileno(), select.POLLIN)
        by_fd: dict = {}  # connection fd -> pid
        while True:
            self._reap(by_fd, poller)
            if self.stopping and not self.instances:
                self._finish()
            try:
                events = poller.poll(CHECK_SECONDS * 1000)
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            for fd, _mask in events:
                if fd == wake_r:
                    _drain(wake_r)
                elif self.listener is not None and fd == self.listener.fileno():
                    instance = self._accept(poller, by_fd)
                    if instance is not None:
                        posix.close(wake_r)
                        posix.close(wake_w)
                        return instance
                elif fd in by_fd:
                    self._caller_activity(fd, by_fd)
            self._check_image()
            self._check_idle()

    def _accept(self, poller, by_fd: dict) -> "Instance | None":
        import _socket

        listener: Any = self.listener  # (_accept: the C socket's own, not in the stubs)
        try:
            fd, _addr = listener._accept()
        except (BlockingIOError, InterruptedError):
            return None
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, fileno=fd)
        self.last_activity = time.monotonic()
        raw = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        uid = int.from_bytes(raw[4:8], sys.byteorder, signed=True)
        if uid != posix.geteuid():
            _say_and_close(conn, "E", "this pool serves its own user only")
            return None
        if self.stopping or self.stale:
            _say_and_close(conn, "E", wire.STALE)
            return None
        if len(self.instances) >= self.options.size:
            _say_and_close(conn, "E", wire.BUSY)
            return None
        try:
            pid = posix.fork()
        except OSError as e:
            _say_and_close(conn, "E", f"cannot fork: {e.strerror}")
            return None
        if pid == 0:
            return self._become_instance(conn)
        self.instances[pid] = conn
        by_fd[conn.fileno()] = pid
        poller.register(conn.fileno(), 0)  # POLLHUP and POLLERR are always reported
        self.served += 1
        self._write_record()
        return None

    def _become_instance(self, conn) -> Instance:
        """In the forked child: drop the server's descriptors and hand the caller on."""
        _signal.set_wakeup_fd(-1)
        if self.listener is not None:
            self.listener.close()
        for other in self.instances.values():
            other.close()
        self.instances.clear()
        instance = Instance(conn, self.manifest, self.loaded, self.options)
        try:
            instance.take_on()
        except RequestError as e:
            instance.refuse(str(e))
            posix._exit(2)
        except BaseException as e:  # anything else, before the program runs: said, then gone
            instance.refuse(f"the instance failed to start: {describe_error(e)}")
            posix._exit(2)
        return instance

    def _caller_activity(self, fd: int, by_fd: dict) -> None:
        """The caller sends nothing after its request: readable means it went away."""
        pid = by_fd[fd]
        conn = self.instances.get(pid)
        try:
            data = conn.recv(4096) if conn is not None else b""
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            try:
                posix.kill(pid, _signal.SIGKILL)  # killed with its caller, as a restore would be
            except OSError:
                pass

    def _reap(self, by_fd: dict, poller) -> None:
        while self.instances:
            try:
                pid, status = posix.waitpid(-1, posix.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.instances.pop(pid, None)
            if conn is None:
                continue
            if posix.WIFSIGNALED(status):
                line = wire.reply("K", posix.WTERMSIG(status))
            else:
                line = wire.reply("X", posix.WEXITSTATUS(status))
            by_fd.pop(conn.fileno(), None)
            try:
                poller.unregister(conn.fileno())
            except (KeyError, ValueError):
                pass
            try:
                conn.setblocking(True)
                conn.sendall(line)
            except OSError:
                pass
            conn.close()
            self.last_activity = time.monotonic()
            self._write_record()

    # -- stopping -------------------------------------------------------------------------
    def _on_stop(self, *_: object) -> None:
        self.stopping = True
        self._stop_listening()

    def _stop_listening(self) -> None:
        if self.listener is not None:
            if self.poller is not None:  # a closed descriptor left there would wake every poll
                try:
                    self.poller.unregister(self.listener.fileno())
                except (KeyError, ValueError):
                    pass
            try:
                if paths.is_own_socket(self.sock_path):
                    posix.unlink(self.sock_path)
            except OSError:
                pass
            self.listener.close()
            self.listener = None

    def _check_image(self) -> None:
        if self.stale:
            return
        try:
            now = paths.identity(self.options.image)
        except OSError:
            now = None
        if now != self.loaded.identity:
            self.stale = self.stopping = True
            self._stop_listening()

    def _check_idle(self) -> None:
        idle = self.options.idle_timeout
        if idle > 0 and not self.instances and time.monotonic() - self.last_activity >= idle:
            self.stopping = True
            self._stop_listening()

    def _finish(self) -> None:
        _remove(self.record_path)
        if self.stale and posix.getpid() == self.pid:
            self._start_again()
        posix._exit(0)

    def _start_again(self) -> None:
        """The image was rebuilt: a new server of the new file in place of this one."""
        from amber._files import BOOT

        try:
            paths.identity(self.options.image)
        except OSError:
            return  # removed: nothing to serve
        old = self.options
        options = PoolOptions(old.image, size=old.size, idle_timeout=old.idle_timeout,
                              fresh_process=old.fresh_process)
        cmd = [sys.executable, "-I", "-S", BOOT, "pool", *options.encode()]
        try:
            posix.execv(cmd[0], cmd)
        except OSError:
            pass

    def _write_record(self) -> None:
        from amber._files import write_atomically

        lines = [f"image={self.options.image}", f"pid={self.pid}", f"size={self.options.size}",
                 f"started={self.started:.0f}", f"served={self.served}", f"running={len(self.instances)}",
                 f"idle_timeout={self.options.idle_timeout:g}",
                 f"fresh_process={int(self.options.fresh_process)}"]
        try:
            write_atomically(self.record_path, ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"),
                             durable=False)
        except OSError:
            pass


def _say_and_close(conn, kind: str, why: str) -> None:
    try:
        conn.setblocking(True)
        conn.sendall(wire.reply(kind, why))
    except OSError:
        pass
    conn.close()


def _drain(fd: int) -> None:
    try:
        while posix.read(fd, 512):
            pass
    except (BlockingIOError, OSError):
        pass


def _remove(path: str) -> None:
    try:
        posix.unlink(path)
    except OSError:
        pass
