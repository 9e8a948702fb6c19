"""Amber's process-wide state in this interpreter: the mode it runs in, and what the program asked.

One :data:`STATE` object per process. Its **mode** is one of:

``PLAIN``
    plain ``python``, and ``amber run``'s first run (a normal run that happens to build an image);
``SNAPSHOTTING``
    ``amber snapshot`` is running the program up to its snapshot point (``amber.snapshot()``
    anywhere but at the top level is refused then);
``RESTORING``
    a restore is rebuilding the heap: the reconstructors run, the program's code does not yet;
``RESTORED``
    the heap is rebuilt; the after-restore hooks and the program's code after the snapshot point
    run (``amber.is_restored()`` is True).

Besides the mode: the image a restored process came from (``amber.multiprocessing`` starts its
workers from it), the packages the program asked to import again (``amber.reimport``), how many
command-line arguments start-up reads (``amber.startup_args``, None: all), and whether the
program's own code has resumed after its snapshot point (from then on its exceptions are its own,
not Amber's: see :func:`amber.errors.entry_point`).

On the restore path: imports nothing.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

__all__ = ["State", "STATE", "PLAIN", "SNAPSHOTTING", "RESTORING", "RESTORED", "MODES"]

PLAIN = "plain"
SNAPSHOTTING = "snapshotting"
RESTORING = "restoring"
RESTORED = "restored"
MODES = (PLAIN, SNAPSHOTTING, RESTORING, RESTORED)


class State:
    """The state of Amber in this process; read through the properties, changed by the methods."""

    __slots__ = ("_mode", "_reimport", "_startup_args", "_resumed", "_image", "_imported_again",
                 "_point_hook", "_checkpoint_hook")

    _mode: str
    _reimport: set[str]
    _startup_args: int | None
    _resumed: bool
    _image: str | None
    _imported_again: tuple[str, ...]
    _point_hook: "Callable[[FrameType], None] | None"
    _checkpoint_hook: "Callable[[FrameType, str], None] | None"

    def __init__(self) -> None:
        self._mode = PLAIN
        self._reimport = set()
        self._startup_args = None
        self._resumed = False
        self._image = None
        self._imported_again = ()
        self._point_hook = None
        self._checkpoint_hook = None

    @property
    def image(self) -> str | None:
        """The image this process was restored from (absolute), or None."""
        return self._image

    def set_image(self, path: str) -> None:
        self._image = path

    @property
    def imported_again(self) -> tuple[str, ...]:
        """The modules this restored process imported again (held by reference), or ()."""
        return self._imported_again

    def set_imported_again(self, names: tuple[str, ...]) -> None:
        self._imported_again = names

    @property
    def point_hook(self) -> "Callable[[FrameType], None] | None":
        """What ``amber.snapshot()`` calls with its own frame while the program runs to its
        snapshot point under Amber (:class:`amber.capture.session.StackPoint`), else None."""
        return self._point_hook

    def set_point_hook(self, hook: "Callable[[FrameType], None] | None") -> None:
        self._point_hook = hook

    @property
    def checkpoint_hook(self) -> "Callable[[FrameType, str], None] | None":
        """What ``amber.checkpoint(path)`` calls with its own frame and the path while Amber
        watches the program (:class:`amber.capture.checkpoint.Checkpoints`), else None."""
        return self._checkpoint_hook

    def set_checkpoint_hook(self, hook: "Callable[[FrameType, str], None] | None") -> None:
        self._checkpoint_hook = hook

    @property
    def mode(self) -> str:
        return self._mode

    def enter(self, mode: str) -> None:
        """Switch to ``mode`` (one of :data:`MODES`)."""
        if mode not in MODES:
            raise ValueError(f"unknown Amber mode {mode!r} (expected one of {', '.join(MODES)})")
        self._mode = mode

    @property
    def restored(self) -> bool:
        return self._mode == RESTORED

    @property
    def snapshotting(self) -> bool:
        return self._mode == SNAPSHOTTING

    @property
    def reimport(self) -> frozenset[str]:
        """Top-level packages the program asked to import again at restore (``amber.reimport``)."""
        return frozenset(self._reimport)

    def add_reimport(self, package: str) -> None:
        self._reimport.add(package)

    @property
    def startup_args(self) -> int | None:
        """How many command-line arguments start-up reads (``amber.startup_args``); None: all."""
        return self._startup_args

    def set_startup_args(self, count: int) -> None:
        self._startup_args = count

    @property
    def resumed(self) -> bool:
        """The program's code after its snapshot point is running."""
        return self._resumed

    def mark_resumed(self) -> None:
        self._resumed = True

    def __repr__(self) -> str:
        return (f"<amber state mode={self._mode} reimport={sorted(self._reimport)} "
                f"startup_args={self._startup_args} resumed={self._resumed}>")


STATE = State()
