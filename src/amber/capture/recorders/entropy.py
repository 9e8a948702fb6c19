"""Randomness that would repeat in every restored process, found at snapshot time.

Each restored process gets fresh entropy where the standard library keeps it (``random``,
``tempfile``, ``multiprocessing``'s authentication key and ``os``: those modules are imported
again, see :mod:`amber.capture.world.rules`; numpy's global generator likewise, numpy being imported
again). What the program keeps itself would repeat, so it is reported, with its path:

* random generators in the heap: ``random.Random`` instances, numpy ``Generator``,
  ``RandomState`` and bit generators (``amber.keep_state(obj)`` says one is seeded on purpose);
* random bytes drawn during start-up (``os.urandom``, and what calls it: ``uuid.uuid4``,
  ``secrets``, ``random.SystemRandom``), except by modules that are imported again anyway.

They are warnings; ``--strict`` makes them errors.
"""

import os
import sys

TYPE_CHECKING = False  # this module is imported before the program runs: nothing more than needed
if TYPE_CHECKING:
    from types import FrameType


class EntropyRecorder:
    """Records who draws random bytes from the OS during start-up."""

    def __init__(self, importing) -> None:
        import posix

        self.draws: list = []  # (module being imported or None, "file:line")
        self._originals = (posix.urandom, os.urandom)
        original = posix.urandom
        draws = self.draws

        def urandom(size):
            draws.append((importing(), _caller()))
            return original(size)

        urandom.__doc__ = original.__doc__
        posix.urandom = os.urandom = urandom
        self._replacement = urandom

    def stop(self) -> None:
        import posix

        for mod in (posix, os):
            if mod.urandom is self._replacement:
                mod.urandom = self._originals[0]  # type: ignore[attr-defined]  # posix has it

    def warnings(self, by_ref) -> list:
        seen: dict[str, int] = {}
        for module, where in self.draws:
            if module is not None and by_ref(module):
                continue
            seen[where] = seen.get(where, 0) + 1
        return [f"start-up drew random bytes from the OS at {where}"
                + (f" ({n} times)" if n > 1 else "") + ": every restored process has the same ones"
                for where, n in seen.items()]


def _caller() -> str:
    """The first frame outside the modules that hand out randomness."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name not in ("os", "random", "uuid", "secrets", "tempfile") and not name.startswith("amber."):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


def generator_kind(obj) -> str | None:
    """What kind of random generator ``obj`` is, if it is one that keeps a state."""
    cls = type(obj)
    random = sys.modules.get("random")
    if random is not None and isinstance(obj, random.Random) and not isinstance(obj, random.SystemRandom):
        return "a random.Random generator"
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("numpy.random"):
        names = {k.__name__ for k in cls.__mro__}
        if names & {"Generator", "RandomState", "BitGenerator"}:
            return f"a numpy {cls.__name__} generator"
    return None
