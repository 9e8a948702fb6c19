"""What start-up depended on, recorded so that ``amber run`` never restores a stale image.

While the program runs to its snapshot point (under ``amber run``), Amber records

* every file it opened for reading (an audit hook on ``open``), except files it also opened for
  writing (its own output), bytecode caches, and ``/proc``, ``/dev``, ``/sys`` and ``/run``;
  a file that did not exist is recorded as absent, so its appearing later counts as a change;
* every environment variable it read through ``os.environ``/``os.getenv`` and had not set
  itself; a program that iterates the whole environment (``dict(os.environ)``) is recorded as
  one input: the set of variable names, not each value;
* at the snapshot point: the source (or bytecode) file of every module it imported, and the
  ``.dist-info``/``.egg-info`` directory of every installed distribution those modules come
  from (an upgrade replaces that directory).

Files are compared by size and modification time (a ``stat`` each); variables by a keyed hash
(BLAKE2b with a key kept in the cache directory): values are never written to an image.
The checking side is :mod:`amber.runcache.freshness`.
"""

import os
import sys

_NOT_INPUTS = ("/proc/", "/dev/", "/sys/", "/run/")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class InputRecorder:
    def __init__(self) -> None:
        self.active = True
        self.read: dict[str, None] = {}  # paths opened for reading, in order
        self.written: set[str] = set()
        self.env_read: dict[str, None] = {}
        self.env_written: set[str] = set()
        self.env_iterated = False
        sys.addaudithook(self._audit)  # audit hooks cannot be removed: ``active`` switches it off
        self._environ_class = type(os.environ)
        os.environ.__class__ = _recording_environ(self._environ_class, self)

    def _audit(self, event: str, args: tuple) -> None:
        if event != "open" or not self.active:
            return
        path, mode, flags = (tuple(args) + (None, None))[:3]
        if not isinstance(path, (str, bytes)):
            return  # a file descriptor
        path = os.fsdecode(path)
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
            (isinstance(flags, int) and flags & _WRITE_FLAGS)
        path = os.path.abspath(path)
        if writing:
            self.written.add(path)
        else:
            self.read.setdefault(path, None)

    def stop(self) -> None:
        self.active = False
        os.environ.__class__ = self._environ_class

    def files(self, modules: dict, exclude_under: str | None = None) -> list:
        """(path, size, mtime_ns) of every input file; (path, -1, -1) for one that is absent."""
        paths = dict.fromkeys(p for p in self.read if p not in self.written and not _ignored(p))
        for name, mod in modules.items():
            file = getattr(mod, "__file__", None)
            if isinstance(file, str) and name != "amber" and not name.startswith("amber."):
                paths.setdefault(os.path.abspath(file), None)
        for dist_dir in _distributions_of(modules):
            paths.setdefault(dist_dir, None)
        out = []
        for path in paths:
            if exclude_under and path.startswith(exclude_under):
                continue
            try:
                st = os.stat(path)
                out.append((path, st.st_size, st.st_mtime_ns))
            except OSError:
                out.append((path, -1, -1))
        return out

    def environment(self, key: bytes) -> tuple[list, bytes | None]:
        """([(name, keyed digest of its value or of its absence)], digest of the names if the
        program iterated the environment)."""
        from amber.runcache.freshness import env_digest, names_digest

        read = [(name, env_digest(key, name)) for name in self.env_read if name not in self.env_written]
        iterated = names_digest(key) if self.env_iterated else None
        return read, iterated


def _ignored(path: str) -> bool:
    return path.startswith(_NOT_INPUTS) or f"{os.sep}__pycache__{os.sep}" in path


def _recording_environ(base: type, recorder: InputRecorder) -> type:
    class RecordingEnviron(base):
        def __getitem__(self, key):
            if recorder.active and key not in recorder.env_written:
                recorder.env_read.setdefault(key, None)
            return base.__getitem__(self, key)

        def __setitem__(self, key, value):
            if recorder.active:
                recorder.env_written.add(key)
            base.__setitem__(self, key, value)

        def __delitem__(self, key):
            if recorder.active:
                recorder.env_written.add(key)
            base.__delitem__(self, key)

        def __iter__(self):
            if recorder.active:
                recorder.env_iterated = True
            return base.__iter__(self)

    RecordingEnviron.__name__ = base.__name__
    RecordingEnviron.__qualname__ = base.__qualname__
    return RecordingEnviron


def _distributions_of(modules: dict) -> list:
    """The metadata directories of the installed distributions the modules come from.

    Read straight from ``sys.path`` (``*.dist-info``/``*.egg-info``, their ``top_level.txt`` or
    ``RECORD``): importing ``importlib.metadata`` here would add to the state being captured."""
    tops = {name.partition(".")[0] for name in modules}
    out = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            meta = os.path.join(entry or ".", name)
            if tops & _provided_by(meta):
                out.append(os.path.abspath(meta))
    return out


def _provided_by(meta: str) -> set:
    try:
        with open(os.path.join(meta, "top_level.txt"), encoding="utf-8") as f:
            return {line.strip() for line in f if line.strip()}
    except OSError:
        pass
    provides = set()
    try:
        with open(os.path.join(meta, "RECORD"), encoding="utf-8") as f:
            for line in f:
                first = line.split(",", 1)[0].split("/", 1)[0]
                provides.add(first[:-3] if first.endswith(".py") else first)
    except OSError:
        pass
    return provides
