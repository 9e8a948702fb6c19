"""What start-up depended on, recorded so that ``amber run`` never restores a stale image.

While the program runs to its snapshot point (under ``amber run``), Amber records every way
CPython lets it observe the world that Amber can watch cheaply, and what it cannot:

* **files read**: an audit hook on ``open`` (and on ``sqlite3.connect``, ``shutil.copyfile`` and
  ``ctypes.dlopen`` of a path); the file's identity is taken when it is opened and again at the
  snapshot point: a file another process changed meanwhile is recorded as it was when read (the
  next run rebuilds). A file start-up read and then wrote is an input as it is at the snapshot
  point if its content is what was read; if start-up changed it, every cold run would read
  another, so no image is built. Files only written (the program's output), bytecode caches and
  ``/proc``, ``/dev``, ``/sys``, ``/run`` are not inputs;
* **existence checks**: ``os.stat``, ``os.lstat`` and ``os.access`` (what ``os.path.exists``,
  ``isfile``, ``isdir``, ``pathlib`` and ``shutil.which`` call) are wrapped while start-up runs,
  and record whether the path exists and its type;
* **directory listings**: ``os.listdir``, ``os.scandir`` (``glob``, ``os.walk``, ``pathlib``);
* **imports**: every directory the import system searched (``sys.path_importer_cache``), absent
  ones too, so a module that appears on the path later (an optional dependency installed, a
  module that would shadow) rebuilds; and at the snapshot point the source of every imported
  module and the ``.dist-info``/``.egg-info`` directory of every distribution they come from;
* **the working directory**, when start-up opened or listed a relative path, called
  ``os.getcwd``/``os.getcwdb`` (``os.path.abspath`` does), or changed directory;
* **environment variables** read through ``os.environ``, ``os.getenv``, ``os.environb`` or
  ``os.getenvb`` and not set by the program, plus the variables the C library and the
  interpreter read on the program's behalf (:data:`C_LIBRARY_VARIABLES`); a program that iterates
  the environment is recorded as one input, the set of names;
* **what cannot be watched**: start-up that reads standard input, runs a command
  (``subprocess``, ``os.system``, ``os.exec*``, ``os.posix_spawn``: what it prints depends on what
  it reads) or rewrites a file it read builds no image (:attr:`InputRecorder.unwatchable`); the
  run goes on normally, and later runs run cold while the other inputs hold.

Not inputs, by design: values read from the clock, and answers from the network (a server's
reply at start-up is the snapshot's, as the time is); see the README's table.

The wrapped ``os`` functions are stand-ins (:func:`stand_in`): anything that kept one during
start-up is captured as the real function. Files are watched by ``stat`` (size, mtime, ctime,
inode, device), variables by a keyed hash: values are never written to an image. The checking
side is :mod:`amber.runcache.freshness`.
"""

import _io
import os
import sys

from amber.capture import distributions
from amber.image.format import WATCH_CONTENT, WATCH_KIND, WATCH_LINK, WATCH_LISTING, WATCH_SEARCHED
from amber.runcache import freshness

_NOT_INPUTS = ("/proc/", "/dev/", "/sys/", "/run/")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

# Read by the C library or the interpreter, not through os.environ: always inputs.
C_LIBRARY_VARIABLES = ("TZ", "TZDIR", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_TIME",
                       "LC_COLLATE", "LC_MONETARY", "LC_MESSAGES", "LC_PAPER", "LC_NAME", "LC_ADDRESS",
                       "LC_TELEPHONE", "LC_MEASUREMENT", "LC_IDENTIFICATION", "LOCPATH", "NLSPATH", "TERM",
                       "TERMINFO", "PYTHONWARNINGS", "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONDEVMODE",
                       "PYTHONOPTIMIZE", "PYTHONINTMAXSTRDIGITS", "PYTHONBREAKPOINT", "PYTHONCOERCECLOCALE")

# Audit events that name a file start-up reads: event -> the argument that is its path.
_FILE_EVENTS = {"sqlite3.connect": 0, "shutil.copyfile": 0, "ctypes.dlopen": 0}
_EXEC_EVENTS = {"subprocess.Popen": 1, "os.exec": 1, "os.posix_spawn": 1, "os.spawn": 2}  # -> its argv
_LISTING_EVENTS = ("os.listdir", "os.scandir")

_STAND_IN = "__amber_stands_in_for__"
_SUPPORTS = ("supports_fd", "supports_dir_fd", "supports_follow_symlinks", "supports_effective_ids")


_STAND_IN_TYPES: set = {type(lambda: None)}


def stand_in(wrapper, real):
    """Mark ``wrapper`` as standing in for ``real`` while start-up runs: the capture side
    (:mod:`amber.capture.reduce.reducers`) writes ``real`` wherever the heap holds ``wrapper``."""
    setattr(wrapper, _STAND_IN, real)
    if type(wrapper) is type(stand_in):
        wrapper.__name__ = real.__name__
        wrapper.__qualname__ = getattr(real, "__qualname__", real.__name__)
        wrapper.__doc__ = real.__doc__
    else:
        _STAND_IN_TYPES.add(type(wrapper))
    return wrapper


def stood_in_for(obj):
    """What ``obj`` stands in for, or None if it is no stand-in (one set lookup for most objects)."""
    if type(obj) not in _STAND_IN_TYPES:
        return None
    try:
        return obj.__dict__.get(_STAND_IN)
    except AttributeError:  # pragma: no cover
        return None


class InputRecorder:
    def __init__(self) -> None:
        self.active = True
        self.read: dict[str, list] = {}  # path -> its identity when first opened for reading
        self.written: set[str] = set()
        self.content_read: dict[str, bytes | None] = {}  # read, then opened for writing: the content read
        self.checked: dict[str, None] = {}  # existence checks
        self.links: dict[str, None] = {}  # symbolic links read
        self.listed: dict[str, None] = {}
        self.uses_cwd = False
        self.env_read: dict[str, None] = {}
        self.env_written: set[str] = set()
        self.env_iterated = False
        self.unwatchable: list[str] = []
        self.broken: str | None = None  # a recorder that failed cannot vouch for an image
        self._getcwd = os.getcwd
        self._cwd = os.getcwd()
        self._stdin = _WatchedStdin()
        self.output: list[list] = []  # [stream (1, 2), text]: what start-up printed, in order
        self._outputs = [_RecordedOutput(fd, self) for fd in (1, 2)]
        sys.addaudithook(self._audit)  # audit hooks cannot be removed: ``active`` switches it off
        self._environ_classes: list[tuple[object, type]] = [(os.environ, type(os.environ))]
        os.environ.__class__ = _recording_environ(type(os.environ), self, str)
        if hasattr(os, "environb"):
            self._environ_classes.append((os.environb, type(os.environb)))
            os.environb.__class__ = _recording_environ(type(os.environb), self, bytes)
        self._wrapped = _wrap_os(self)

    # --- while start-up runs -------------------------------------------------------------------

    def _absolute(self, path: str) -> str:
        if path.startswith("/"):
            return os.path.normpath(path)
        self.uses_cwd = True
        return os.path.normpath(os.path.join(self._getcwd(), path))

    def _audit(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        try:
            self._event(event, args)
        except Exception as e:  # never the program's failure: this run just builds no image
            self.broken = f"{event}: {type(e).__name__}: {e}"

    def _event(self, event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None))[:3]
            if not isinstance(path, (str, bytes)):
                return  # a file descriptor
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags & _WRITE_FLAGS)
            self.note_file(path, writing=bool(writing))
        elif event in _LISTING_EVENTS:
            if _by_the_import_system(sys._getframe(2)):
                return  # its directories are watched for the names a module can have (WATCH_SEARCHED)
            path = args[0] if args else None
            if path is None:
                path = "."
            if isinstance(path, (str, bytes)):
                self.listed.setdefault(self._absolute(os.fsdecode(path)), None)
        elif event in _FILE_EVENTS:
            path = args[_FILE_EVENTS[event]] if args else None
            if isinstance(path, (str, bytes)) and (event != "ctypes.dlopen" or "/" in os.fsdecode(path)):
                self.note_file(path, writing=False)
            elif event == "sqlite3.connect" and isinstance(path, os.PathLike):
                self.note_file(os.fspath(path), writing=False)
        elif event in _EXEC_EVENTS or event == "os.system":
            # What a command prints depends on what it reads: nothing here can watch that.
            what = args[_EXEC_EVENTS.get(event, 0)] if args else "?"
            self.unwatchable.append(f"ran a command ({_shown(what)})")
        elif event == "os.chdir":
            self.uses_cwd = True

    def note_file(self, path, writing: bool) -> None:
        path = self._absolute(os.fsdecode(path))
        if writing:
            if path in self.read and path not in self.written:
                self.content_read[path] = _content_digest(path)  # not truncated yet: what was read
            self.written.add(path)
        elif path not in self.read:
            self.read[path] = freshness.stamp(path, WATCH_CONTENT)

    def note_checked(self, path, into: dict | None = None) -> None:
        if self.active and isinstance(path, (str, bytes, os.PathLike)):
            try:
                noted = self.checked if into is None else into
                noted.setdefault(self._absolute(os.fsdecode(os.fspath(path))), None)
            except Exception as e:  # pragma: no cover - as in _audit
                self.broken = f"os.stat: {type(e).__name__}: {e}"

    # --- at the snapshot point -----------------------------------------------------------------

    def stop(self) -> None:
        self.active = False
        for environ, cls in self._environ_classes:
            environ.__class__ = cls
        _unwrap_os(self._wrapped)
        if self._stdin.stop():
            self.unwatchable.append("read standard input")
        for out in self._outputs:
            out.stop()
        if sum(len(text) for _fd, text in self.output) > OUTPUT_LIMIT:
            self.unwatchable.append(f"printed more than {OUTPUT_LIMIT >> 20} MB")
        if self.broken is not None:
            self.unwatchable.append(f"could not be followed ({self.broken})")

    def after_capture(self) -> None:
        """The program goes on: give it back what it had (the standard streams' stand-ins)."""
        self._stdin.give_back()
        for out in self._outputs:
            out.give_back()

    def record(self, modules: dict, key: bytes, program: str, exclude_under: str | None = None) -> dict:
        """The inputs record (``INPUTS_SCHEMA`` of :mod:`amber.image.format`)."""
        watched: dict[tuple, tuple] = {}  # (path, a link's target?) -> the row: one watch per path, the first

        def watch(path: str, how: int, recorded: list | None = None) -> None:
            key = (path, how == WATCH_LINK)  # (a link is watched for its target besides what it names)
            if exclude_under and path.startswith(exclude_under) or _ignored(path) or key in watched:
                return
            now = freshness.stamp(path, how) if recorded is None else recorded
            listing = how in (WATCH_LISTING, WATCH_SEARCHED, WATCH_LINK) and now
            names = freshness.listing_digest(path, how) if listing else None
            watched[key] = (path, how, now, names)

        for path, when_read in self.read.items():
            if path in self.written:
                if path not in self.content_read:
                    continue  # written first: the program's own output, read back
                if _content_digest(path) != self.content_read[path] or self.content_read[path] is None:
                    self.unwatchable.append(f"rewrote {path}, which it had read (each run reads another)")
                watch(path, WATCH_CONTENT)  # read, then written back unchanged: its state now is the input
            else:
                now = freshness.stamp(path, WATCH_CONTENT)
                watch(path, WATCH_CONTENT, when_read if now != when_read else now)  # changed meanwhile: stale
        for name, mod in modules.items():
            file = getattr(mod, "__file__", None)
            if isinstance(file, str) and name != "amber" and not name.startswith("amber."):
                watch(os.path.abspath(file), WATCH_CONTENT)
        for dist_dir in distributions.metadata_dirs({name.partition(".")[0] for name in modules}):
            watch(dist_dir, WATCH_CONTENT)
        for path in self.listed:
            watch(path, WATCH_LISTING)
        for path in _searched_directories():
            watch(path, WATCH_SEARCHED if os.path.isdir(path) else WATCH_KIND)
        for path in self.checked:
            if path not in self.written:
                watch(path, WATCH_KIND)
        for path in self.links:
            watch(path, WATCH_LINK, freshness._link_stamp(path))
        env, env_names = self.environment(key)
        return {"program": program, "watched": list(watched.values()),
                "output": [(fd, text) for fd, text in self.output],
                "cwd": self._cwd if self.uses_cwd else None, "env": env, "env_names": env_names}

    def environment(self, key: bytes) -> tuple[list, bytes | None]:
        """([(name, keyed digest of its value or of its absence)], digest of the names if the
        program iterated the environment)."""
        names = dict.fromkeys(n for n in self.env_read if n not in self.env_written)
        names.update(dict.fromkeys(n for n in C_LIBRARY_VARIABLES if n not in self.env_written))
        read = [(name, freshness.env_digest(key, name)) for name in names]
        iterated = freshness.names_digest(key) if self.env_iterated else None
        return read, iterated


def _by_the_import_system(frame) -> bool:
    code = frame.f_code if frame is not None else None
    return code is not None and code.co_filename.startswith("<frozen importlib")


def _shown(command) -> str:
    if isinstance(command, (list, tuple)):
        command = " ".join(os.fsdecode(c) if isinstance(c, (str, bytes)) else str(c) for c in command)
    text = os.fsdecode(command) if isinstance(command, (str, bytes)) else str(command)
    return text if len(text) <= 60 else text[:57] + "..."


def _content_digest(path: str, limit: int = 1 << 26) -> bytes | None:
    """BLAKE2b of a file's content (None if it cannot be read, or is larger than ``limit``)."""
    from _blake2 import blake2b

    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    return None if len(data) > limit else blake2b(data).digest()


def _ignored(path: str) -> bool:
    return path.startswith(_NOT_INPUTS) or f"{os.sep}__pycache__{os.sep}" in path


OUTPUT_LIMIT = 1 << 20  # what start-up may print and have printed again by each restore


class _RecordedOutput:
    """What start-up printed on ``sys.stdout`` or ``sys.stderr`` (print, logging, warnings), kept
    so that a restored process prints it again, as a cold run would. The stream is replaced while
    start-up runs by one of the same class over the same buffer (writing through at once, so the
    order with anything writing to the buffer itself holds) that notes the text it writes; the
    program keeps it afterwards, and an image holds the original in its place. Not seen: writes to
    ``.buffer``, ``sys.__stdout__`` or the file descriptor itself."""

    def __init__(self, fd: int, recorder: "InputRecorder") -> None:
        name = "stdout" if fd == 1 else "stderr"
        self.name, self.proxy = name, None
        self.original = getattr(sys, name)
        if type(self.original) is not _io.TextIOWrapper or self.original.closed:
            return
        try:
            self.proxy = _writing_noted(self.original, fd, recorder)
        except (OSError, ValueError, AttributeError):  # pragma: no cover - an unusual stream
            return
        setattr(sys, name, self.proxy)

    def stop(self) -> None:
        if self.proxy is not None and getattr(sys, self.name) is self.proxy:
            try:
                self.proxy.flush()
            except (OSError, ValueError):  # a closed or broken stream: the program's own trouble
                pass
            setattr(sys, self.name, self.original)

    def give_back(self) -> None:
        if self.proxy is not None and getattr(sys, self.name) is self.original:
            setattr(sys, self.name, self.proxy)


def _writing_noted(original, fd: int, recorder: "InputRecorder"):
    base = type(original)
    real_write = base.write

    def write(self, text):
        if recorder.active and isinstance(text, str):
            out = recorder.output
            if out and out[-1][0] == fd:
                out[-1][1] += text
            else:
                out.append([fd, text])
        return real_write(self, text)

    cls = type(base.__name__, (base,), {"write": write})
    original.flush()
    proxy = cls(original.buffer, encoding=original.encoding, errors=original.errors, newline=None,
                line_buffering=original.line_buffering, write_through=True)
    return stand_in(proxy, original)


class _WatchedStdin:
    """Whether start-up read standard input. A regular file tells by its offset; a pipe, a
    terminal or a socket cannot, so ``sys.stdin`` is replaced while start-up runs by a stream of
    the same class over the same buffer that notes every read (and every use of ``.buffer``).
    The program keeps it for the rest of the run (it may hold read-ahead, and what start-up kept
    must stay ``sys.stdin``); an image holds the original stream in its place."""

    def __init__(self) -> None:
        self.read = False
        self.original = sys.stdin
        self.offset: int | None = None
        self.proxy = None
        try:
            self.offset = os.lseek(0, 0, os.SEEK_CUR)
            return
        except OSError:
            pass
        if type(self.original) is not _io.TextIOWrapper or self.original.closed:
            return
        try:
            self.proxy = _reading_noted(self.original, self)
        except (OSError, ValueError, AttributeError):  # pragma: no cover - an unusual stdin
            return
        sys.stdin = self.proxy

    def stop(self) -> bool:
        """Whether start-up read standard input. The capture sees the original stream as
        ``sys.stdin`` (what the replacement stands in for); :meth:`give_back` puts the
        replacement back for the rest of the run."""
        if self.offset is not None:
            try:
                return os.lseek(0, 0, os.SEEK_CUR) != self.offset
            except OSError:
                return True
        if self.proxy is not None and sys.stdin is self.proxy:
            sys.stdin = self.original
        return self.read

    def give_back(self) -> None:
        if self.proxy is not None and sys.stdin is self.original:
            sys.stdin = self.proxy


def _reading_noted(original, watch: "_WatchedStdin"):
    base = type(original)

    def noting(name):
        real = getattr(base, name)

        def method(self, *args, **kwargs):
            watch.read = True
            return real(self, *args, **kwargs)

        method.__name__ = name
        return method

    names = ("read", "readline", "readlines", "__next__", "__iter__", "detach")
    cls = type(base.__name__, (base,), {name: noting(name) for name in names})
    real_buffer = base.__dict__["buffer"]

    def buffer(self):
        watch.read = True
        return real_buffer.__get__(self)

    cls.buffer = property(buffer)  # type: ignore[attr-defined]
    proxy = cls(original.buffer, encoding=original.encoding, errors=original.errors, newline="\n",
                line_buffering=original.line_buffering, write_through=original.write_through)
    return stand_in(proxy, original)


def _searched_directories() -> list:
    """The directories the import system searched, as their finders remember them."""
    out = []
    for path, finder in list(sys.path_importer_cache.items()):
        if not isinstance(path, str) or not path:
            continue
        if finder is None or type(finder).__name__ in ("FileFinder", "zipimporter"):
            out.append(os.path.abspath(path))
    return out


def _wrap_os(recorder: InputRecorder) -> list:
    """Put recording stand-ins for the existence checks and ``getcwd`` into ``os``."""
    wrapped = []

    def checking(real):
        def check(path, *args, **kwargs):
            if kwargs.get("dir_fd") is not None and recorder.active:
                recorder.unwatchable.append(f"looked up {path!r} relative to a directory descriptor")
            recorder.note_checked(path)
            return real(path, *args, **kwargs)

        return stand_in(check, real)

    def link_reading(real):
        def readlink(path, *args, **kwargs):
            recorder.note_checked(path, recorder.links)
            return real(path, *args, **kwargs)

        return stand_in(readlink, real)

    def opening(real):
        def open(path, flags, mode=0o777, *, dir_fd=None):
            if dir_fd is not None and recorder.active:  # the audit event names no directory
                recorder.unwatchable.append(f"opened {path!r} relative to a directory descriptor")
            return real(path, flags, mode, dir_fd=dir_fd)

        return stand_in(open, real)

    def cwd_reading(real):
        def getcwd():
            if recorder.active:
                recorder.uses_cwd = True
            return real()

        return stand_in(getcwd, real)

    for name, make in (("stat", checking), ("lstat", checking), ("access", checking), ("getcwd", cwd_reading),
                       ("getcwdb", cwd_reading), ("readlink", link_reading), ("open", opening)):
        real = getattr(os, name, None)
        if real is None:
            continue
        wrapper = make(real)
        setattr(os, name, wrapper)
        # os.supports_* name functions by identity (shutil asks `os.stat in os.supports_fd`)
        sets = [s for s in (getattr(os, n, None) for n in _SUPPORTS) if isinstance(s, set) and real in s]
        for s in sets:
            s.add(wrapper)
        wrapped.append((name, real, wrapper, sets))
    return wrapped


def _unwrap_os(wrapped: list) -> None:
    for name, real, wrapper, sets in wrapped:
        if getattr(os, name, None) is wrapper:
            setattr(os, name, real)
        for s in sets:
            s.discard(wrapper)


def _recording_environ(base: type, recorder: InputRecorder, kind: type) -> type:
    def name_of(key) -> str | None:
        if type(key) is str and kind is str:
            return key
        if type(key) is bytes and kind is bytes:
            return os.fsdecode(key)
        return None  # os.environ[b"PATH"] raises in the real mapping too (os.get_exec_path tries it)

    class RecordingEnviron(base):
        def __getitem__(self, key):
            name = name_of(key)
            if recorder.active and name is not None and name not in recorder.env_written:
                recorder.env_read.setdefault(name, None)
            return base.__getitem__(self, key)

        def __setitem__(self, key, value):
            name = name_of(key)
            if recorder.active and name is not None:
                recorder.env_written.add(name)
            base.__setitem__(self, key, value)

        def __delitem__(self, key):
            name = name_of(key)
            if recorder.active and name is not None:
                recorder.env_written.add(name)
            base.__delitem__(self, key)

        def __iter__(self):
            if recorder.active:
                recorder.env_iterated = True
            return base.__iter__(self)

    RecordingEnviron.__name__ = base.__name__
    RecordingEnviron.__qualname__ = base.__qualname__
    return RecordingEnviron
