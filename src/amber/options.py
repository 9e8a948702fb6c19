"""The options of the commands that cross a process boundary, typed, and how they cross it.

``amber run``, ``amber snapshot`` and ``amber restore`` parse their command line once, in the
``amber`` command (:mod:`amber.commands.cli`), into one of these objects, then re-execute the
interpreter on :mod:`amber._boot`, which decodes it again:

* :class:`RunOptions`: ``amber`` -> ``_boot.py run`` (:mod:`amber.restore.run`);
* :class:`SnapshotOptions`: ``amber`` -> ``_boot.py snapshot`` (:mod:`amber.capture.session`), and
  ``_boot.py run`` -> ``_boot.py snapshot`` when ``amber run`` hands over to a build;
* :class:`RestoreOptions`: ``amber`` -> ``_boot.py restore`` (:mod:`amber.restore.loader`);
* :class:`PoolOptions`: ``amber pool start`` -> ``_boot.py pool`` (:mod:`amber.pool.server`);
* :class:`WorkerOptions`: a restored program's ``multiprocessing`` -> ``_boot.py worker``
  (:mod:`amber.multiprocessing`, :mod:`amber.restore.worker`).

**Encoding.** ``encode()`` gives ``["<Class>=<hex>", *args]``: every field but ``args`` in one argv
element, as ``marshal.dumps`` of a tuple in ``__slots__`` order, hex-encoded (argv cannot hold a
NUL byte), then the program's own arguments, unchanged, so that ``ps`` shows them as given.
``decode(argv)`` reverses it and refuses anything else with a :class:`~amber.errors.UsageError`.
Both ends are the same interpreter and the same Amber (the child is ``sys.executable`` on this
package's own ``_boot.py``), so marshal's format is the same on both.

On the restore path: imports only the base set (``marshal``; names for type checkers only, in
string annotations: see :mod:`amber.errors`).
"""

import marshal

from amber.errors import UsageError

TYPE_CHECKING = False  # typing is not in the base set: its names are for type checkers only
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Self

__all__ = ["RunOptions", "SnapshotOptions", "RestoreOptions", "VerifyOptions", "PoolOptions", "WorkerOptions"]


class _Options:
    """Encoding, decoding, equality and repr from ``__slots__`` (the fields, in order)."""

    __slots__: tuple[str, ...] = ()
    args: list[str]

    @classmethod
    def _fields(cls) -> tuple[str, ...]:
        """The fields encoded in the tag's element: every slot but ``args``, in order."""
        return tuple(name for name in cls.__slots__ if name != "args")

    def encode(self) -> list[str]:
        """``["<Class>=<hex>", *args]``: see the module's docstring."""
        blob = marshal.dumps(tuple(getattr(self, name) for name in self._fields()))
        return [f"{type(self).__name__}={blob.hex()}", *self.args]

    @classmethod
    def decode(cls, argv: "Sequence[str]") -> "Self":
        """The options ``encode`` turned into ``argv``."""
        tag = f"{cls.__name__}="
        if not argv or not argv[0].startswith(tag):
            raise UsageError(f"expected {cls.__name__} as amber's command encodes them, not {list(argv[:1])}")
        try:
            values = marshal.loads(bytes.fromhex(argv[0][len(tag):]))
        except (ValueError, EOFError, TypeError):
            raise UsageError(f"{cls.__name__} cannot be decoded (damaged command line)") from None
        names = cls._fields()
        if type(values) is not tuple or len(values) != len(names):
            raise UsageError(f"{cls.__name__} cannot be decoded (made by another version of Amber?)")
        options = cls.__new__(cls)  # the fields are as encode() found them: no __init__ to run again
        for name, value in zip(names, values, strict=True):
            setattr(options, name, value)
        setattr(options, "args", list(argv[1:]))  # noqa: B010 (a slot of the subclass)
        return options

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in type(self).__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable: not a dict key

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).__slots__)
        return f"{type(self).__name__}({fields})"


class RunOptions(_Options):
    """``amber run [OPTIONS] (SCRIPT | -m MODULE) [ARGS...]``."""

    __slots__ = ("target", "is_module", "rebuild", "verbose", "reimport", "allowed_secrets", "strict",
                 "verify", "wait", "no_pool", "args")

    target: str  # the script as spelled (so a cold run gets it; the key makes it absolute), or the module
    is_module: bool
    rebuild: bool  # --rebuild: build a new image even when the cached one is fresh
    verbose: bool  # -v: say why an image is restored, built or not
    reimport: list[str]  # --reimport PKG
    allowed_secrets: list[str]  # --allow-secret NAME
    strict: bool  # --strict: randomness that would repeat is an error
    verify: bool  # off with --no-verify: the image is not restored and compared before use
    wait: bool  # --wait: a build happens before the program goes on, not in the background
    no_pool: bool  # --no-pool: restore in this process even when a pool of the cached image runs

    def __init__(self, target: str, is_module: bool = False, *, rebuild: bool = False, verbose: bool = False,
                 reimport: "Iterable[str]" = (), allowed_secrets: "Iterable[str]" = (),
                 strict: bool = False, verify: bool = True, wait: bool = False, no_pool: bool = False,
                 args: "Iterable[str]" = ()) -> None:
        self.target = target
        self.is_module = is_module
        self.rebuild = rebuild
        self.verbose = verbose
        self.reimport = list(reimport)
        self.allowed_secrets = list(allowed_secrets)
        self.strict = strict
        self.verify = verify
        self.wait = wait
        self.no_pool = no_pool
        self.args = list(args)

    def build_key(self) -> tuple:
        """The options that change how an image is built: part of the cache's program key."""
        return (tuple(self.reimport), tuple(self.allowed_secrets), self.strict, self.verify)


class SnapshotOptions(_Options):
    """``amber snapshot [OPTIONS] (SCRIPT | -m MODULE) [ARGS...]``, or ``amber run``'s build.

    ``root`` is set only for ``amber run``'s first run, which runs the program normally, writes
    ``image`` into the cache at ``root`` (program directory ``entry``) at its snapshot point,
    unless ``build`` is off (the program is known not to be capturable), and keeps going.
    """

    __slots__ = ("image", "target", "is_module", "reimport", "allowed_secrets", "strict", "lazy_code",
                 "verify", "root", "entry", "build", "verbose", "program", "started", "wait", "args")

    image: str  # absolute path of the image to write
    target: str  # the script as given, or the module's name
    is_module: bool
    reimport: list[str]
    allowed_secrets: list[str]
    strict: bool
    lazy_code: bool  # --lazy-code (experimental): functions get their code on first call
    verify: bool  # restore the image in a fresh process and compare before it appears (--no-verify: off)
    root: str | None  # amber run: the cache's root directory; None for amber snapshot
    entry: str | None  # amber run: the program's directory in the cache
    build: bool  # amber run: write the image (off: run without trying)
    verbose: bool  # amber run -v
    program: str  # amber run: the program's cache key (each image records it)
    started: float | None  # amber run: when its run began (amber.runcache.timings.now()), for the cold time
    wait: bool  # amber run --wait: build before the program goes on (else in a background fork)

    def __init__(self, image: str, target: str, is_module: bool = False, *, reimport: "Iterable[str]" = (),
                 allowed_secrets: "Iterable[str]" = (), strict: bool = False, lazy_code: bool = False,
                 verify: bool = True, root: str | None = None, entry: str | None = None, build: bool = True,
                 verbose: bool = False, program: str = "", started: float | None = None,
                 wait: bool = False, args: "Iterable[str]" = ()) -> None:
        self.image = image
        self.target = target
        self.is_module = is_module
        self.reimport = list(reimport)
        self.allowed_secrets = list(allowed_secrets)
        self.strict = strict
        self.lazy_code = lazy_code
        self.verify = verify
        self.root = root
        self.entry = entry
        self.build = build
        self.verbose = verbose
        self.program = program
        self.started = started
        self.wait = wait
        self.args = list(args)

    @property
    def for_run(self) -> bool:
        """``amber run``'s first run rather than ``amber snapshot``."""
        return self.root is not None


class RestoreOptions(_Options):
    """``amber restore [--insecure] [--verify-buffers] [--no-pool] IMAGE [ARGS...]``, and
    ``amber debug [--insecure] IMAGE [ARGS...]`` (``debug``)."""

    __slots__ = ("image", "insecure", "verify_buffers", "no_pool", "debug", "args")

    image: str
    insecure: bool  # restore without checking the signature
    verify_buffers: bool  # check the large buffers' digest even if this file passed the check before
    no_pool: bool  # restore in this process even when a pool of IMAGE runs
    debug: bool  # run the rest of __main__ under pdb, stopped at its first line (amber debug)

    def __init__(self, image: str, *, insecure: bool = False, verify_buffers: bool = False,
                 no_pool: bool = False, debug: bool = False, args: "Iterable[str]" = ()) -> None:
        self.image = image
        self.insecure = insecure
        self.verify_buffers = verify_buffers
        self.no_pool = no_pool
        self.debug = debug
        self.args = list(args)


class PoolOptions(_Options):
    """``_boot.py pool``: the server of a pool of ``image`` (:mod:`amber.pool.server`)."""

    __slots__ = ("image", "size", "idle_timeout", "fresh_process", "ready_fd", "args")

    image: str  # absolute
    size: int  # at most this many instances at once; beyond, callers restore by themselves
    idle_timeout: float  # stop after this many seconds with no instance (0: never)
    fresh_process: bool  # each instance execs a restore: its own ASLR and hash seed, a restore's time
    ready_fd: int  # where "ready PID" or "error LINE" goes once (-1: nobody waits)

    def __init__(self, image: str, *, size: int, idle_timeout: float = 0.0, fresh_process: bool = False,
                 ready_fd: int = -1) -> None:
        self.image = image
        self.size = size
        self.idle_timeout = idle_timeout
        self.fresh_process = fresh_process
        self.ready_fd = ready_fd
        self.args: list = []


class WorkerOptions(_Options):
    """``_boot.py worker``: a ``multiprocessing`` worker restored from ``image``
    (:mod:`amber.multiprocessing`, :mod:`amber.restore.worker`)."""

    __slots__ = ("image", "pipe_fd", "tracker_fd", "args")

    image: str
    pipe_fd: int  # the worker reads its preparation data and process object here
    tracker_fd: int  # multiprocessing's resource tracker (-1: none)

    def __init__(self, image: str, *, pipe_fd: int, tracker_fd: int) -> None:
        self.image = image
        self.pipe_fd = pipe_fd
        self.tracker_fd = tracker_fd
        self.args: list = []


class VerifyOptions(_Options):
    """``_boot.py verify``: restore ``image`` up to the program's hooks, write the description of
    its state to ``result`` (:mod:`amber.verify.child`); ``args``: the program's arguments."""

    __slots__ = ("image", "result", "args")

    image: str
    result: str  # the file the description goes to (made by the live side, mode 0600)

    def __init__(self, image: str, result: str, *, args: "Iterable[str]" = ()) -> None:
        self.image = image
        self.result = result
        self.args = list(args)
